"""The work beside a server: the sweep and follower run as the app's own Services (its policies
and clock), one sweeper per council schema, and a catch-up never rereads a log it has read."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import psycopg
import pytest

from ehqa.api import background
from ehqa.api.background import start
from ehqa.clock import fixed
from ehqa.services import Services
from projections import runner
from projections.runner import position
from schedulers.lock import PostgresCatchUpLock, PostgresSweepLock
from tests.conftest import postgres_server_url

TODAY = date(2025, 11, 20)


def open_overdue(s: Services, reference: str) -> None:
    """An episode whose assessment fell due months before TODAY (under its default policy)."""
    s.app.open_episode(reference, child=f"C-{reference}", lead_name="Jo Bright",
                       lead_agency="primary_school", on=date(2025, 4, 1), lead_subject="staff:jb")  # fmt: skip
    s.app.change(reference, lambda e, t: e.record_consent(["primary_school"], date(2025, 4, 2), t))


def test_the_background_sweep_uses_the_apps_policies_and_clock(
    store_url: str, tmp_path: Path
) -> None:
    """A council's own policy (known only from its policy directory) and a fixed clock: the
    sweep beside the server raises the alerts under that policy, as at that date."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "our-council.toml").write_text('title = "Our council"\nextends = "st-helens"\n')
    s = Services(store_url, policy_dir=policies, default_policy="our-council", clock=fixed(TODAY))
    stop = threading.Event()
    try:
        open_overdue(s, "EH-1")
        assert s.app.get_episode("EH-1").policy == "our-council"
        workers = start(s, stop, interval=3600)
        deadline = time.monotonic() + 120
        while not (found := s.read.alerts(TODAY)) and time.monotonic() < deadline:
            time.sleep(0.2)
            s.catch_up()
        assert found, "the sweep beside the server raised nothing"
        assert {a["episode"] for a in found} == {"EH-1"}
        assert {a["raised_on"] for a in found} == {TODAY.isoformat()}
    finally:
        stop.set()
        for worker in locals().get("workers", []):
            worker.join(timeout=30)
        s.close()


def test_a_catch_up_waits_for_the_one_under_way_elsewhere_instead_of_racing_it(
    store_url: str,
) -> None:
    """The sweep holds the catch-up lock while it saves a batch and takes it into the views; a
    server's write asking for its views meanwhile waits for it (not doing the same work beside
    it), and then finds them holding the batch."""
    s = Services(store_url, clock=fixed(TODAY))
    sweeper = s.sibling()  # (another connection, as the sweep's process has)
    held, release, answered = threading.Event(), threading.Event(), threading.Event()

    def sweeping() -> None:
        with sweeper.catch_up_lock.held():
            open_overdue(sweeper, "EH-2")
            held.set()
            release.wait(30)
            sweeper.catch_up()  # (taken again by its holder: re-entrant)

    def write_waiting() -> None:
        s.catch_up_views(["episodes", "timeline", "children"])
        answered.set()

    try:
        open_overdue(s, "EH-1")
        s.catch_up()
        threads = [threading.Thread(target=sweeping), threading.Thread(target=write_waiting)]
        threads[0].start()
        assert held.wait(30)
        threads[1].start()
        assert not answered.wait(0.5), "the write's catch-up did not wait for the sweep's"
        release.set()
        for thread in threads:
            thread.join(30)
        assert answered.is_set()
        assert s.read.episode("EH-2") is not None
        head = s.app.recorder.max_notification_id()
        assert {position(s.views, name) for name in ("episodes", "timeline", "children")} == {head}
    finally:
        release.set()
        sweeper.close()
        s.close()


def test_the_follower_takes_the_catch_up_lock_only_when_a_view_has_something_to_take(
    store_url: str,
) -> None:
    """Beside a server whose writes catch their own views up, the follower mostly finds nothing
    to take: it looks without the lock (which a write may be waiting for), and takes it only
    for an event the views lack."""
    s = Services(store_url, clock=fixed(TODAY))
    follower = s.sibling()
    stop, taken = threading.Event(), []

    @contextmanager
    def counted() -> Iterator[None]:
        taken.append(time.monotonic())
        with follower.catch_up_lock.held():
            yield

    thread = threading.Thread(target=runner.follow, args=(follower.app, follower.views,
                              follower.projections, stop), kwargs={"poll_interval": 0.05,
                              "exclusive": counted})  # fmt: skip
    try:
        open_overdue(s, "EH-1")
        s.catch_up()
        thread.start()
        time.sleep(1.0)  # (twenty rounds on SQLite; the first catch-up on PostgreSQL)
        assert taken == []
        open_overdue(s, "EH-2")  # (not caught up by its writer: the follower's to take)
        deadline = time.monotonic() + 30
        while s.read.episode("EH-2") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.read.episode("EH-2") is not None and taken
        took = len(taken)
        time.sleep(0.5)  # (quiet again: it looks, and leaves the lock alone)
        assert len(taken) == took
    finally:
        stop.set()
        thread.join(30)
        follower.close()
        s.close()


def test_a_view_with_nothing_in_the_log_moves_to_its_head_and_misses_nothing_after(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox has no events until the sweep raises an alert: catching up moves it to the
    head of the log (so it is not read again), and the alerts raised later reach it."""
    monkeypatch.setattr(runner, "SKIP_AT_LEAST", 1)  # (a short log: moved past however short)
    s = Services(store_url, clock=fixed(TODAY))
    try:
        open_overdue(s, "EH-1")
        s.catch_up()
        head = s.app.recorder.max_notification_id()
        assert position(s.views, "outbox") == head and position(s.views, "audits") == head
        raised = s.sweep()
        assert raised
        assert {r[0] for r in s.views.query("SELECT alert_id FROM ehqa_outbox")} == {
            r.id for r in raised
        }
        assert position(s.views, "audits") == s.app.recorder.max_notification_id()
    finally:
        s.close()


@pytest.mark.postgres
def test_councils_in_two_schemas_of_one_database_each_hold_their_own_sweep_lock() -> None:
    server = postgres_server_url()
    a, b = (f"t_{uuid.uuid4().hex[:12]}" for _ in range(2))
    with (
        PostgresSweepLock(server, a).hold() as first,
        PostgresSweepLock(server, b).hold() as other_council,
        PostgresSweepLock(server, a).hold() as second,
    ):
        assert (first, other_council, second) == (True, True, False)
    with PostgresSweepLock(server, a).hold() as again:
        assert again  # (released with its holder)


@pytest.mark.postgres
def test_the_catch_up_lock_outlives_its_connection_being_dropped() -> None:
    """The kept connection dropped while idle (a server restart, an idle timeout) is opened
    again when the lock is next taken; dropped while the lock is held, release does not raise
    and the lock is free for the next holder (it went with the session)."""
    server, schema = postgres_server_url(), f"t_{uuid.uuid4().hex[:12]}"
    lock, other = PostgresCatchUpLock(server, schema), PostgresCatchUpLock(server, schema)

    def drop(held_by: PostgresCatchUpLock) -> None:
        pid = held_by._conn.info.backend_pid
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    try:
        with lock.held():
            pass
        drop(lock)  # (idle)
        with lock.held(), pytest.raises(TimeoutError):  # (held: the other waits)
            taken_within(other, 0.5)
        with lock.held():
            drop(lock)  # (while held)
        taken_within(other, 5)  # (free again)
    finally:
        lock.close()
        other.close()


def taken_within(lock: PostgresCatchUpLock, seconds: float) -> None:
    """Take and release `lock` in another thread; TimeoutError if not taken in time."""
    done = threading.Event()

    def take() -> None:
        with lock.held():
            done.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    if not done.wait(seconds):
        raise TimeoutError
    thread.join(5)


def test_a_sweep_process_that_cannot_be_started_is_tried_again(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Starting the sweep's process can fail (no memory, no processes left, here a target that
    cannot be sent to it): logged, and tried again until the server stops; never given up."""
    monkeypatch.setattr(background, "sweeping", lambda *_: None)  # (a lambda does not pickle)
    monkeypatch.setattr(background, "RESTART_AFTER", 0.1)
    s, stop = Services(store_url, clock=fixed(TODAY)), threading.Event()
    thread = threading.Thread(target=background.sweep_process, args=(s, 3600, (None, None), stop))
    try:
        with caplog.at_level(logging.ERROR, logger="ehqa.api"):
            thread.start()
            deadline = time.monotonic() + 30
            while (
                len(failed := [r for r in caplog.records if "could not be started" in r.message])
                < 2
            ):
                assert time.monotonic() < deadline, "not tried again"
                time.sleep(0.05)
        assert failed
    finally:
        stop.set()
        thread.join(30)
        s.close()
    assert not thread.is_alive()
