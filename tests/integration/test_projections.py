"""The read models answer exactly what the episodes themselves say, on SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from aggregates.clocks import Status
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import references, simulate
from projections import cursors, runner, tracking, views
from projections import db as view_db
from projections import replay as replays
from projections.runner import follow, position, rebuild
from projections.views import EpisodeRows, EpisodesProjection, History

from ..conftest import SIM_TODAY, dump_views

START = date(2024, 11, 20)


def simulated(services: Services, episodes: int, seed: int = 11) -> list[str]:
    report = simulate(services.app, episodes, seed, START, SIM_TODAY)
    assert report.refused == []
    return list(references(seed, episodes))


def test_views_agree_with_the_episodes_themselves(services: Services) -> None:
    refs = simulated(services, 120)
    services.catch_up()
    for as_at in (date(2025, 3, 3), date(2025, 12, 24), SIM_TODAY):
        board = {}
        for row in services.read.deadlines(None, as_at):
            board.setdefault(row.episode, []).append(row.entry)
        for ref in refs:
            episode = services.app.get_episode(ref)
            assert board.get(ref, []) == services.app.clocks(episode, as_at), (ref, as_at)
    for ref in refs:
        episode = services.app.get_episode(ref)
        view = services.read.episode(ref)
        assert view is not None
        assert (view["state"], view["version"], view["lead"]) == (
            episode.state.value, episode.version, episode.lead,
        )  # fmt: skip
        assert services.read.timeline(ref) == services.app.timeline(ref)
        expected_open = ref if episode.is_open else None
        assert services.read.open_episode_of(episode.child) == expected_open


def test_the_drift_board_lists_exactly_the_overdue_clocks(services: Services) -> None:
    simulated(services, 150)
    services.catch_up()
    for as_at in (date(2025, 6, 2), SIM_TODAY):
        everything = services.read.deadlines(None, as_at)
        overdue = {(r.episode, r.entry.clock, r.entry.occurrence) for r in everything
                   if r.entry.status is Status.OVERDUE}  # fmt: skip
        board = services.read.drift(as_at)
        assert {(r.episode, r.entry.clock, r.entry.occurrence) for r in board} == overdue
        lates = [r.entry.working_days_late for r in board]
        assert lates == sorted(lates, reverse=True)
        agency = board[0].lead_agency
        by_agency = services.read.drift(as_at, agency=agency)
        assert by_agency and all(r.lead_agency == agency for r in by_agency)
        assert len(by_agency) == sum(1 for r in board if r.lead_agency == agency)
        lead = board[0].lead_name
        assert {r.episode for r in services.read.drift(as_at, lead=lead)} == {
            r.episode for r in board if r.lead_name == lead
        }
        only_fam = services.read.drift(as_at, clock="fam")
        assert all(r.entry.clock.value == "fam" for r in only_fam)
        bnes = services.read.drift(as_at, policy="bnes")
        assert all(r.policy == "bnes" for r in bnes)


def test_due_soon_lists_running_clocks_due_in_the_next_working_days(services: Services) -> None:
    simulated(services, 150)
    services.catch_up()
    as_at = date(2026, 6, 1)
    until = services.app.calendar.add_working_days(as_at, 5)
    soon = services.read.drift(as_at, due_within=5)
    expected = {(r.episode, r.entry.clock, r.entry.occurrence)
                for r in services.read.deadlines(None, as_at)
                if r.entry.status is Status.PENDING and r.entry.due_on <= until}  # fmt: skip
    assert {(r.episode, r.entry.clock, r.entry.occurrence) for r in soon} == expected
    assert [r.entry.due_on for r in soon] == sorted(r.entry.due_on for r in soon)


def test_caseloads_count_each_lead_professionals_open_episodes(services: Services) -> None:
    refs = simulated(services, 100)
    services.catch_up()
    expected: dict[tuple[str, str], int] = {}
    for ref in refs:
        episode = services.app.get_episode(ref)
        if episode.is_open and episode.lead:
            key = (episode.lead["name"], episode.lead["agency"])
            expected[key] = expected.get(key, 0) + 1
    loads = services.read.caseloads(SIM_TODAY)
    assert {(x["lead"], x["agency"]): x["open_episodes"] for x in loads} == expected
    # (the board also holds clocks that run on after closing, such as feedback at closure; a
    # lead whose episodes are all closed has no caseload row)
    leads = {(x["lead"], x["agency"]) for x in loads}
    overdue = [r for r in services.read.drift(SIM_TODAY) if (r.lead_name, r.lead_agency) in leads]
    assert sum(x["overdue_clocks"] for x in loads) == len(overdue)
    worst = max((x for x in loads if x["worst"]), key=lambda x: x["worst"]["working_days_late"])
    assert worst["worst"]["working_days_late"] == overdue[0].entry.working_days_late
    agencies = services.read.agency_loads(SIM_TODAY)
    assert sum(a["open_episodes"] for a in agencies) == sum(expected.values())


def test_rebuild_from_zero_equals_incremental_catch_up_for_2000_episodes(
    services: Services,
) -> None:
    for seed in (1, 2, 3, 4):  # four waves, catching up after each; two as a live log is written
        simulate(services.app, 500, seed, START, SIM_TODAY, interleaved=seed % 2 == 0)
        services.catch_up()
    incremental = dump_views(services)
    assert len(incremental["ehqa_episodes"]) == 2000
    for projection in services.projections:
        services.rebuild(projection.name)
    assert dump_views(services) == incremental


def test_an_interleaved_simulation_writes_the_same_histories_in_business_date_order(
    services: Services, tmp_path: Path
) -> None:
    simulate(services.app, 150, 8, START, SIM_TODAY, interleaved=True)
    apart = Services(str(tmp_path / "apart.db"), clock=fixed(SIM_TODAY))
    try:
        simulate(apart.app, 150, 8, START, SIM_TODAY)
        for ref in references(8, 150):
            mixed, alone = services.app.get_episode(ref), apart.app.get_episode(ref)
            assert mixed.facts == alone.facts
            assert (mixed.version, mixed.state) == (alone.version, alone.state)
    finally:
        apart.close()
    log = services.app.recorder.select_notifications(
        start=1, limit=10**6, topics=services.projection("episodes").topics
    )
    events = [services.app.mapper.to_domain_event(n) for n in log]
    openings = [event.on for event in events if event.originator_version == 1]
    assert openings == sorted(openings)  # (an episode's first event is recorded on its date)
    switches = sum(a.originator_id != b.originator_id for a, b in pairwise(events))
    assert switches > len(events) * 0.8  # episodes' events are mixed, not one history at a time


def test_a_batch_ended_early_by_the_projection_moves_the_position_only_that_far(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulate(services.app, 60, 12, START, SIM_TODAY, interleaved=True)
    services.catch_up()
    expected = dump_views(services)
    app = services.app
    small = EpisodesProjection(  # ends each batch once it has touched seven episodes
        lambda ident, version: app.repository.get(ident, version=version),
        app.policies.get, app.calendar, cache_size=7,
    )  # fmt: skip
    moves, steps = count_moves(monkeypatch), []
    applied = rebuild(app, services.views, small, progress=steps.append, replay=False)
    log = app.recorder.select_notifications(1, 10**6, topics=small.topics)
    assert applied == len(log)
    assert len(moves) > 60 // 7 and moves == sorted(moves)  # many batches, each further on
    assert moves[-1] == position(services.views, "episodes") == log[-1].id
    assert sum(steps) == log[-1].id  # the progress bar follows the position through the log
    assert dump_views(services) == expected


def test_a_rebuild_replays_each_episode_once_in_bounded_batches(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebuilt aggregate by aggregate, in batches of whole histories that hold at most
    REPLAY_EVENTS events, each episode's clocks are derived once, and the view comes out as
    catching up in log order made it (batches of 1,000 events, each episode spread over many)."""
    simulate(services.app, 300, 14, START, SIM_TODAY, interleaved=True)
    services.catch_up()
    incremental = dump_views(services)
    episodes = services.projection("episodes")
    assert isinstance(episodes, EpisodesProjection)
    monkeypatch.setattr(replays, "REPLAY_EVENTS", 400)
    monkeypatch.setattr(replays, "REPLAY_WINDOW", 250)  # (first events looked for 250 at a time)
    held: list[int] = []
    replay = episodes.replay

    def counted(histories: list[History]) -> EpisodeRows:
        held.append(sum(len(history.events) for history in histories))
        return replay(histories)

    monkeypatch.setattr(episodes, "replay", counted)
    moves, steps = count_moves(monkeypatch), []
    derived = episodes.derivations
    applied = services.rebuild("episodes", progress=steps.append)
    assert episodes.derivations - derived == 300  # once each
    log = services.app.recorder.select_notifications(1, 10**6, topics=episodes.topics)
    assert applied == len(log) == sum(held)
    assert len(held) > log[-1].id // 250 and max(held) <= 400  # bounded batches
    assert len(moves) == len(held) and moves == sorted(moves)  # one move a batch, each further on
    assert moves[-1] == position(services.views, "episodes") == log[-1].id
    assert runner.replay_target(services.views, "episodes") is None  # the replay is over
    assert sum(steps) == log[-1].id  # the progress bar follows the position through the log
    assert dump_views(services) == incremental
    # a view emptied and far behind (as after a change of its tables) is replayed the same way
    with services.views.transaction() as cur:
        for statement in runner.clears(episodes):
            cur.execute(statement)
        cur.execute("DELETE FROM ehqa_tracking WHERE projection = 'episodes'")
    monkeypatch.setattr(runner, "FAR_BEHIND", 100)
    derived, moves[:] = episodes.derivations, []
    assert services.catch_up_one("episodes") == len(log)
    assert episodes.derivations - derived == 300 and len(moves) > len(log) // 400
    assert dump_views(services) == incremental


def count_moves(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each committed move of a view's position (one per batch)."""
    moves: list[int] = []
    advance = tracking._advance

    def counted(cur: object, name: str, old: int, new: int) -> bool:
        moves.append(new)
        return advance(cur, name, old, new)  # type: ignore[arg-type]

    monkeypatch.setattr(tracking, "_advance", counted)
    return moves


@pytest.mark.parametrize(("far_behind", "batches"), [(10**9, 3), (100, 1)])
def test_a_view_far_behind_catches_up_in_rebuild_sized_batches(
    services: Services, monkeypatch: pytest.MonkeyPatch, far_behind: int, batches: int
) -> None:
    simulate(services.app, 150, 13, START, SIM_TODAY, interleaved=True)
    moves = count_moves(monkeypatch)
    monkeypatch.setattr(runner, "FAR_BEHIND", far_behind)
    applied = services.catch_up_one("episodes")
    assert 2000 < applied < 3000 and len(moves) == batches  # 1,000 a batch, or all at once
    assert moves[-1] == services.app.recorder.select_notifications(
        1, 10**6, topics=services.projection("episodes").topics)[-1].id  # fmt: skip


def test_a_crash_in_the_middle_of_catch_up_then_a_restart_equals_a_clean_rebuild(
    services: Services,
) -> None:
    simulate(services.app, 1500, 5, START, SIM_TODAY)
    log = services.app.recorder.max_notification_id()
    worker = subprocess.Popen(
        [sys.executable, "-m", "ehqa", "--db", services.database_url, "projections", "rebuild",
         "episodes", "--batch-size", "20"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while position(services.views, "episodes") < log // 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    at_crash = position(services.views, "episodes")
    assert 0 < at_crash < log, "the kill must land in the middle of the catch-up"
    wanted = {name for name, _ in view_db.secondary_indexes(view_db.VIEW_TABLES)}
    assert not wanted <= index_names(services)  # the rebuild had dropped the view's indexes
    services.close()
    again = Services(services.database_url, clock=fixed(SIM_TODAY))  # the restart
    try:
        assert wanted <= index_names(again)  # ... and opening the views made them again
        again.catch_up()
        restarted = dump_views(again)
        for projection in again.projections:
            again.rebuild(projection.name)
        assert dump_views(again) == restarted
    finally:
        again.close()


def index_names(services: Services) -> set[str]:
    sql = ("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
           if services.database_url.startswith("postgres")
           else "SELECT name FROM sqlite_master WHERE type = 'index'")  # fmt: skip
    return {row[0] for row in services.views.query(sql)}


def test_two_processes_catching_up_at_once_count_nothing_twice(services: Services) -> None:
    simulate(services.app, 600, 6, START, SIM_TODAY)
    command = [
        sys.executable,
        "-m",
        "ehqa",
        "--db",
        services.database_url,
        "projections",
        "catch-up",
    ]
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert all(w.returncode == 0 for w in workers)
    applied = sum(int(line.split()[2]) for out in outputs for line in out.splitlines()
                  if line.startswith("episodes"))  # fmt: skip
    assert applied == len(services.app.recorder.select_notifications(
        start=1, limit=10**6, topics=services.projection("episodes").topics))  # fmt: skip
    together = dump_views(services)
    for projection in services.projections:
        services.rebuild(projection.name)
    assert dump_views(services) == together


def test_follow_keeps_the_views_current_as_events_are_recorded(services: Services) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=follow,
        args=(services.app, services.views, services.projections, stop, 0.1),
        daemon=True,
    )
    thread.start()
    try:
        services.app.open_episode(
            "EH-LIVE", child="C-LIVE", lead_name="Jo", lead_agency="school", on=date(2026, 1, 5)
        )
        deadline = time.monotonic() + 15
        while services.read.episode("EH-LIVE") is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert services.read.episode("EH-LIVE") is not None
        services.app.change(
            "EH-LIVE", lambda e, t: e.record_consent(["school"], date(2026, 1, 6), t)
        )
        while (
            services.read.episode("EH-LIVE")["state"] != "assessing" and time.monotonic() < deadline
        ):  # type: ignore[index]
            time.sleep(0.05)
        assert services.read.episode("EH-LIVE")["state"] == "assessing"  # type: ignore[index]
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()


def test_the_same_seed_gives_the_same_caseload(tmp_path, services: Services) -> None:  # type: ignore[no-untyped-def]
    other = Services(str(tmp_path / "other.db"), clock=services.app.clock)
    try:
        simulated(services, 60, seed=42)
        simulated(other, 60, seed=42)

        def facts(s: Services) -> list[object]:
            return [
                [{k: v for k, v in e.items() if k != "recorded_at"} for e in s.app.timeline(ref)]
                for ref in references(42, 60)
            ]

        assert facts(services) == facts(other)
    finally:
        other.close()


def test_the_simulator_writes_a_realistic_mix(services: Services) -> None:
    report = simulate(services.app, 400, 9, START, SIM_TODAY)
    assert report.refused == []
    assert set(report.scenarios) >= {"on_time", "late_assessment", "drifting", "missed_reviews",
                                     "stepped_up", "step_down", "pre_birth"}  # fmt: skip
    assert 10 <= report.events / report.episodes <= 30
    services.catch_up()
    statuses = {r.entry.status for r in services.read.deadlines(None, SIM_TODAY)}
    assert statuses >= {Status.MET, Status.LATE, Status.OVERDUE, Status.PENDING, Status.CANCELLED}
    agencies = {load["agency"] for load in services.read.caseloads(SIM_TODAY)}
    assert len(agencies) >= 5
    exceptions = [r for r in services.read.deadlines(None, SIM_TODAY) if r.entry.exception]
    assert exceptions
    holidays = services.app.calendar
    crossing = [r for r in services.read.deadlines(None, SIM_TODAY)
                if any(not holidays.is_working_day(r.entry.started_on + timedelta(days=n))
                       and r.entry.started_on.weekday() < 4 and (r.entry.started_on + timedelta(days=n)).weekday() < 5
                       for n in range(1, (r.entry.due_on - r.entry.started_on).days))]  # fmt: skip
    assert crossing, "some clocks run over a bank holiday"


@pytest.mark.parametrize("name", ["episodes", "timeline", "children"])
def test_status_shows_each_view_behind_then_up_to_date(services: Services, name: str) -> None:
    simulated(services, 5)
    before = {s.name: s for s in services.status()}
    assert before[name].pending and before[name].position == 0
    services.catch_up_one(name)
    after = {s.name: s for s in services.status()}
    assert not after[name].pending and after[name].position > 0
    assert after[name].log_position == services.app.recorder.max_notification_id()


def test_views_of_an_older_shape_are_dropped_and_rebuilt_from_the_log(store_url: str) -> None:
    first = Services(store_url, clock=fixed(SIM_TODAY))
    simulated(first, 20)
    first.catch_up()
    before = dump_views(first)
    first.close()
    original = view_db.VIEW_SCHEMA_VERSION
    view_db.VIEW_SCHEMA_VERSION = original + 100
    try:
        second = Services(store_url, clock=fixed(SIM_TODAY))
        assert all(s.position == 0 for s in second.status())
        second.catch_up()
        assert dump_views(second) == before
        second.close()
    finally:
        view_db.VIEW_SCHEMA_VERSION = original


def counted_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The events each batch the runner writes takes, in order (filled as they are written)."""
    batches: list[int] = []
    one_batch = runner._batch

    def counted(*args: object, **options: object) -> tuple[object, ...]:
        window, failure = one_batch(*args, **options)  # type: ignore[arg-type]
        batches.append(window.count)
        return window, failure

    monkeypatch.setattr(runner, "_batch", counted)
    return batches


def test_a_timeline_rebuilt_in_batches_of_a_few_rows_is_the_live_followers(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of the timeline ends at TIMELINE_ROWS (its position there), the next takes the
    rest: the rows are those the live follower wrote, each once."""
    simulated(services, 12)
    services.catch_up()
    live, at = dump_views(services)["ehqa_timeline"], position(services.views, "timeline")
    monkeypatch.setattr(views, "TIMELINE_ROWS", 7)
    batches = counted_batches(monkeypatch)
    applied = services.rebuild("timeline")
    assert applied == len(live) > 7 * 3
    assert max(batches) == 7 and sum(batches) == len(live)
    assert dump_views(services)["ehqa_timeline"] == live
    assert position(services.views, "timeline") == at


def test_children_rebuilt_in_batches_of_a_few_events_are_the_live_followers(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of the children view ends at CHILDREN_ROWS; a child's record registered in an
    earlier batch is read back and written again: the rows are those the live follower wrote."""
    simulated(services, 12)
    services.catch_up()
    live, at = dump_views(services)["ehqa_children"], position(services.views, "children")
    monkeypatch.setattr(views, "CHILDREN_ROWS", 5)
    batches = counted_batches(monkeypatch)
    read_back: list[int] = []
    for cursor in (cursors.SQLiteCursor, cursors.PgCursor):
        reading = cursor.rows_with

        def rows_with(self: Any, table: str, key: str, columns: Any, keys: Any,
                      reading: Any = reading) -> Any:  # fmt: skip
            read_back.append(len(keys))
            return reading(self, table, key, columns, keys)

        monkeypatch.setattr(cursor, "rows_with", rows_with)
    applied = services.rebuild("children")
    assert applied > 5 * 3
    assert max(batches) == 5 and sum(batches) == applied
    assert sum(read_back) > 0  # (records registered in an earlier batch, read back)
    assert dump_views(services)["ehqa_children"] == live
    assert position(services.views, "children") == at
