"""The sweep never misses a due clock and raises each alert once, on SQLite and PostgreSQL."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aggregates.alerts import alert_id, ladder
from aggregates.clocks import AFTER_CLOSURE
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import simulate
from projections.tracking import position
from schedulers.delivery import JsonLinesSink, WebhookSink
from schedulers.sweep import BATCH, sweep

D = date


def services_at(url: str, today: date) -> Services:
    return Services(url, clock=fixed(today))


def open_with_assessment_due_5_may_2023(s: Services, reference: str = "EH-1") -> None:
    s.app.open_episode(reference, child=f"C-{reference}", lead_name="Jo Bright",
                       lead_agency="primary_school", on=D(2023, 4, 3), lead_subject="staff:jb")  # fmt: skip
    s.app.change(reference, lambda e, t: e.record_consent(["primary_school"], D(2023, 4, 4), t))


def raised_events(s: Services) -> Counter[str]:
    """How many AlertRaised events each alert id has in the whole log."""
    counts: Counter[str] = Counter()
    for notification in s.app.recorder.select_notifications(start=1, limit=10**7):
        if notification.topic.endswith(".AlertRaised"):
            counts[s.app.mapper.to_domain_event(notification).alert_id] += 1  # type: ignore[attr-defined]
    return counts


def expected_alerts(s: Services, today: date) -> set[str]:
    """Every rung fallen due by `today` of every clock running then, worked out from the
    episodes themselves (not from the views the sweep uses). On a closed episode only the clocks
    that run on after the closing (feedback at closure) are still running."""
    expected = set()
    for ref in s.read.references():
        episode = s.app.get_episode(ref)
        escalation = s.app.policy_of(episode).escalation
        for entry in s.app.clocks(episode, today):
            if not episode.is_open and entry.clock not in AFTER_CLOSURE:
                continue
            if entry.status.value in ("pending", "overdue"):
                for rung, _ in ladder(entry.due_on, escalation, s.app.calendar).fell_due(today):
                    expected.add(alert_id(ref, entry.clock, entry.occurrence, rung))
    return expected


def test_a_sweep_raises_each_rung_once_however_often_it_runs(store_url: str) -> None:
    s = services_at(store_url, D(2023, 5, 9))
    try:
        open_with_assessment_due_5_may_2023(s)
        first = s.sweep()
        assert first is not None
        assessment = sorted((r.rung, r.fell_due_on) for r in first if r.clock == "assessment")
        assert assessment == [("due_soon", D(2023, 5, 2)), ("overdue", D(2023, 5, 9))]
        assert s.sweep() == []
        assert s.sweep() == []
        assert set(raised_events(s).values()) == {1}
    finally:
        s.close()


def run_scheduler_until_it_has_swept(url: str, today: str, tmp_path: Path) -> str:
    """`ehqa scheduler run` as the service runs it, stopped after its start-up sweep."""
    log = tmp_path / f"scheduler-{today}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "ehqa", "--db", url, "scheduler", "run", "--interval", "3600"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "EHQA_TODAY": today},
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while "sweep as at" not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    text = log.read_text()
    assert f"sweep as at {today}" in text, text
    return text


def test_a_restart_over_a_bank_holiday_weekend_raises_what_fell_due_once_late_but_not_lost(
    store_url: str, tmp_path: Path
) -> None:
    s = services_at(store_url, D(2023, 4, 28))
    try:
        open_with_assessment_due_5_may_2023(s)
        simulate(s.app, 40, 3, D(2022, 11, 1), D(2023, 4, 28))
        s.catch_up()
        run_scheduler_until_it_has_swept(store_url, "2023-04-28", tmp_path)
        s.catch_up()
        before = {a["id"] for a in s.read.alerts(D(2023, 4, 28), include_cleared=True)}
        assert "EH-1/assessment/1/due_soon" not in before
        # the service is down from Friday 28 April to Tuesday 9 May (two bank holiday weekends)
        log = run_scheduler_until_it_has_swept(store_url, "2023-05-09", tmp_path)
        assert "raised EH-1/assessment/1/due_soon (fell due 2023-05-02" in log
        assert "raised EH-1/assessment/1/overdue (fell due 2023-05-09" in log
        run_scheduler_until_it_has_swept(
            store_url, "2023-05-09", tmp_path
        )  # and again: nothing new
        s.catch_up()
        raised = raised_events(s)
        assert set(raised.values()) == {1}, [k for k, v in raised.items() if v > 1]
        assert set(raised) >= expected_alerts(services_at(store_url, D(2023, 5, 9)), D(2023, 5, 9))
        late = [a for a in s.read.alerts(D(2023, 5, 9), include_cleared=True)
                if a["id"] == "EH-1/assessment/1/due_soon"]  # fmt: skip
        assert late[0]["fell_due_on"] == "2023-05-02" and late[0]["raised_on"] == "2023-05-09"
    finally:
        s.close()


def test_every_alert_that_fell_due_is_raised_for_a_simulated_caseload(store_url: str) -> None:
    s = services_at(store_url, D(2026, 3, 2))
    try:
        simulate(s.app, 150, 8, D(2025, 1, 1), D(2026, 3, 2))
        raised = s.sweep()
        assert raised is not None
        assert {r.id for r in raised} == expected_alerts(s, D(2026, 3, 2))
    finally:
        s.close()


def test_a_large_sweep_keeps_the_views_within_one_batch_of_the_log(store_url: str) -> None:
    """A request's write waits for the views to hold every event committed before it; a first
    sweep raising many batches of alerts catches them up batch by batch, so that wait never
    meets more than one batch's alerts (not every alert the sweep has raised so far)."""
    s = services_at(store_url, D(2023, 5, 9))
    try:
        episodes = 2 * BATCH + BATCH // 2  # (three batches, the last half full)
        for n in range(episodes):
            open_with_assessment_due_5_may_2023(s, f"EH-{n}")
        s.catch_up()
        behind: list[int] = []

        def catch_up() -> None:
            after = position(s.views, "episodes")
            behind.append(len(s.app.recorder.select_notifications(start=after + 1, limit=10**6)))
            s.catch_up()

        raised = sweep(s.app, s.read, catch_up, D(2023, 5, 9))
        per_episode = max(Counter(r.episode for r in raised).values())
        assert len(raised) == episodes * per_episode
        assert max(behind) <= BATCH * per_episode < len(raised)
        assert len(behind) == 1 + 3  # (once before, once after each batch)
        assert s.app.recorder.max_notification_id() == position(s.views, "episodes")
    finally:
        s.close()


def test_two_sweeps_racing_without_the_lock_still_raise_nothing_twice(store_url: str) -> None:
    first, second = services_at(store_url, D(2026, 3, 2)), services_at(store_url, D(2026, 3, 2))
    try:
        simulate(first.app, 120, 9, D(2025, 1, 1), D(2026, 3, 2))
        first.catch_up()
        second.catch_up()
        results: list[Any] = []

        def run(s: Services) -> None:
            results.append(sweep(s.app, s.read, s.catch_up, D(2026, 3, 2)))

        threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        raised = raised_events(first)
        assert set(raised.values()) == {1}
        assert sum(len(r) for r in results) == len(raised)
        assert set(raised) == expected_alerts(first, D(2026, 3, 2))
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
def test_two_schedulers_on_one_postgres_store_raise_no_alert_twice(
    postgres_url: str, tmp_path: Path
) -> None:
    s = services_at(postgres_url, D(2026, 3, 2))
    try:
        simulate(s.app, 200, 10, D(2025, 1, 1), D(2026, 3, 2))
        s.catch_up()
        command = [
            sys.executable,
            "-m",
            "ehqa",
            "--db",
            postgres_url,
            "scheduler",
            "run",
            "--interval",
            "0.2",
        ]
        env = {**os.environ, "EHQA_TODAY": "2026-03-02"}
        logs = [tmp_path / f"s{n}.log" for n in range(2)]
        processes = [subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
                     for log in logs]  # fmt: skip
        # both running rounds (however slowly they start on a busy machine), then more rounds
        deadline = time.monotonic() + 120
        while not all("sweep as at 2026-03-02" in log.read_text() or "skipped" in log.read_text()
                      for log in logs):  # fmt: skip
            assert all(p.poll() is None for p in processes), [log.read_text() for log in logs]
            assert time.monotonic() < deadline, [log.read_text() for log in logs]
            time.sleep(0.1)
        time.sleep(3)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
        raised = raised_events(s)
        assert raised and set(raised.values()) == {1}
        assert set(raised) == expected_alerts(s, D(2026, 3, 2))
        texts = [log.read_text() for log in logs]
        assert all("sweep as at 2026-03-02" in t or "skipped" in t for t in texts), texts
    finally:
        s.close()


def test_an_awaited_step_recorded_late_clears_its_alert(store_url: str) -> None:
    s = services_at(store_url, D(2023, 5, 9))
    try:
        open_with_assessment_due_5_may_2023(s)
        s.sweep()
        s.app.change(
            "EH-1", lambda e, t: e.record_exception("assessment", "Family abroad", D(2023, 5, 9), t)
        )
        s.app.change("EH-1", lambda e, t: e.finalise_assessment(D(2023, 5, 9), t))
        s.catch_up()
        assert not [a for a in s.read.alerts(D(2023, 5, 9)) if a["clock"] == "assessment"]
        cleared = [
            a
            for a in s.read.alerts(D(2023, 5, 9), include_cleared=True)
            if a["clock"] == "assessment"
        ]
        assert {a["cleared_on"] for a in cleared} == {"2023-05-09"}
        entry = next(
            r.entry
            for r in s.read.deadlines("EH-1", D(2023, 5, 9))
            if r.entry.clock.value == "assessment"
        )
        assert (entry.status.value, entry.working_days_late, entry.exception) == (
            "late",
            1,
            "Family abroad",
        )
        labels = [i["label"] for i in s.read.timeline("EH-1", milestones=True)]
        assert any(label.startswith("Alert: assessment overdue") for label in labels)
    finally:
        s.close()


def test_alerts_for_a_person_and_acknowledgement(store_url: str) -> None:
    s = services_at(store_url, D(2023, 5, 22))
    try:
        open_with_assessment_due_5_may_2023(s)
        s.sweep()
        s.catch_up()
        manager = s.read.alerts(D(2023, 5, 22), role="team_manager")
        assert {a["id"] for a in manager if a["clock"] == "assessment"} == {
            "EH-1/assessment/1/escalated"
        }
        assert all("Early Help team manager" in a["recipients"] for a in manager)
        assert not s.read.alerts(D(2023, 5, 22), "Jo Bright")  # a name is not an address
        assert {a["rung"] for a in s.read.alerts(D(2023, 5, 22), "staff:jb")} >= {
            "due_soon",
            "overdue",
            "escalated",
        }
        s.app.acknowledge_alert("EH-1/assessment/1/escalated", "Team manager")
        s.catch_up()
        acked = next(
            a for a in s.read.alerts(D(2023, 5, 22)) if a["id"] == "EH-1/assessment/1/escalated"
        )
        assert acked["acknowledged_by"] == "Team manager"
    finally:
        s.close()


def test_delivery_to_a_file_is_at_least_once_and_deduplicated(
    store_url: str, tmp_path: Path
) -> None:
    s = services_at(store_url, D(2023, 5, 22))
    try:
        open_with_assessment_due_5_may_2023(s)
        raised = {r.id for r in s.sweep() or []}
        assert {"EH-1/assessment/1/due_soon", "EH-1/assessment/1/escalated"} <= raised
        sink = JsonLinesSink(tmp_path / "alerts.jsonl")
        assert s.deliver([sink]) == len(raised)
        assert s.deliver([sink]) == 0
        with s.views.transaction() as cur:  # a crash after sending, before marking
            cur.execute("DELETE FROM ehqa_deliveries")
        assert s.deliver([sink]) == len(raised)
        lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
        assert sorted(line["alert_id"] for line in lines) == sorted(raised)
        assert all(
            line["episode"] == "EH-1" and line["message"].startswith("Alert:") for line in lines
        )
    finally:
        s.close()


class Receiver(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []
    failures_left = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if Receiver.failures_left > 0:
            Receiver.failures_left -= 1
            self.send_response(500)
        else:
            Receiver.received.append((self.headers["Idempotency-Key"], body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_delivery_to_a_webhook_retries_and_carries_the_alert_id(sqlite_url: str) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.received, Receiver.failures_left = [], 2
    s = services_at(sqlite_url, D(2023, 5, 22))
    try:
        open_with_assessment_due_5_may_2023(s)
        raised = {r.id for r in s.sweep() or []}
        sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/alerts", retries=3, backoff=0.01)
        assert s.deliver([sink]) == len(raised)
        assert s.deliver([sink]) == 0
        keys = [key for key, _ in Receiver.received]
        assert sorted(keys) == sorted(body["alert_id"] for _, body in Receiver.received)
        assert set(keys) == raised and len(keys) == len(raised)
        Receiver.failures_left = 10**6  # a receiver that is down: nothing marked, tried next round
        open_with_assessment_due_5_may_2023(s, "EH-2")
        more = {r.id for r in s.sweep() or []}
        assert s.deliver([sink]) == 0
        rows = s.views.query(
            "SELECT attempts, last_error FROM ehqa_deliveries WHERE delivered_at IS NULL"
        )
        assert len(rows) == len(more) and all(error for _, error in rows)
        Receiver.failures_left = 0
        assert s.deliver([sink]) == len(more)
    finally:
        s.close()
        server.shutdown()


def test_a_paced_sweep_lets_the_catch_up_lock_be_as_long_as_it_held_it(store_url: str) -> None:
    """Beside a server (paced), after each batch the sweep waits as long as it held the lock,
    so a write mostly finds it free; waiting on the stop flag, so stopping ends the wait."""
    s = services_at(store_url, D(2023, 5, 9))
    try:
        for n in range(2 * BATCH + 1):  # (three batches)
            open_with_assessment_due_5_may_2023(s, f"EH-{n}")
        held: list[float] = []  # (each turn the sweep took, not those nested in it)
        lock, depth = s.catch_up_lock.held, [0]

        @contextmanager
        def timed() -> Iterator[None]:
            with lock():
                started, depth[0] = time.monotonic(), depth[0] + 1
                try:
                    yield
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:
                        held.append(time.monotonic() - started)

        s.catch_up_lock.held = timed  # type: ignore[method-assign]
        waits: list[float | None] = []

        class Stop(threading.Event):
            def wait(self, timeout: float | None = None) -> bool:
                waits.append(timeout)
                return super().wait(timeout)

        raised = s.sweep(stop=Stop(), paced=True)
        assert raised and len({r.episode for r in raised}) == 2 * BATCH + 1
        turns = held[1:]  # (after the catch-up before the first batch)
        assert len(waits) == len(turns) == 3  # (once after each batch)
        assert all(w is not None and w >= 0.9 * h for w, h in zip(waits, turns, strict=True))
        for n in range(2 * BATCH + 1):  # (alerts falling due later: another three batches)
            s.app.change(f"EH-{n}", lambda e, t: e.finalise_assessment(D(2023, 5, 9), t))
        waits.clear()
        later = services_at(store_url, D(2023, 9, 1))
        try:
            assert later.sweep(stop=Stop(), paced=False)
        finally:
            later.close()
        assert waits == []  # (unpaced: `ehqa sweep`, run by hand)
    finally:
        s.close()


def test_paced_pauses_in_proportion_to_the_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    from schedulers import lock
    from schedulers.lock import paced

    for share, factor in ((0.5, 1.0), (0.25, 3.0)):
        pauses: list[float] = []
        with paced(nullcontext, pauses.append, share):
            time.sleep(0.02)
        assert len(pauses) == 1
        assert 0.02 * factor <= pauses[0] < 5 * factor
    monkeypatch.setattr(lock, "PAUSE_MOST", 0.01)  # (a hold that caught up a long backlog)
    pauses = []
    with paced(nullcontext, pauses.append):
        time.sleep(0.02)
    assert pauses == [0.01]
