"""A replay reads its next batch while it writes this one (PostgreSQL), and what it reads ahead
is exactly what it would have read then: the same views, each batch read once, a batch that
was not the one read ahead read at once, and a failed read ahead failing the batch that takes
it. Both stores (SQLite is told to read ahead here; by default it does not)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ehqa.services import Services
from ehqa.simulate import simulate
from projections import histories, replay, runner
from projections.histories import EventLog
from projections.replay import ReadAhead, Reading, read_batch
from projections.views import EpisodesProjection

from ..conftest import SIM_TODAY, dump_views
from .test_projections import START


@pytest.fixture
def reading_ahead(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, str]]]:
    """Every log a replay reads reads ahead; yields each batch read: its start and thread."""
    made = EventLog.__init__

    def ahead(self: EventLog, *args: object, **named: object) -> None:
        made(self, *args, **named)  # type: ignore[arg-type]
        self.read_ahead = True

    reads: list[tuple[int, str]] = []
    read = replay.read_batch

    def recorded(log: EventLog, topics: object, start: int, *rest: int) -> Reading:
        reads.append((start, threading.current_thread().name))
        return read(log, topics, start, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(histories.EventLog, "__init__", ahead)
    monkeypatch.setattr(replay, "read_batch", recorded)
    yield reads


def simulated_log(services: Services, seed: int) -> tuple[EventLog, tuple[str, ...], int]:
    """Sixty interleaved episodes' log, the episodes view's topics, and its last event."""
    simulate(services.app, 60, seed, START, SIM_TODAY, interleaved=True)
    log = EventLog.of(services.app, services.views)
    assert log is not None
    topics = tuple(services.projection("episodes").topics)
    return log, topics, log.last(topics)


def test_only_postgresql_reads_ahead_by_default(services: Services) -> None:
    log = EventLog.of(services.app, services.views)
    assert log is not None
    assert log.read_ahead is services.database_url.startswith("postgresql")


def test_a_rebuild_reading_ahead_writes_what_catching_up_in_log_order_wrote(
    services: Services, monkeypatch: pytest.MonkeyPatch, reading_ahead: list[tuple[int, str]]
) -> None:
    simulate(services.app, 200, 21, START, SIM_TODAY, interleaved=True)
    services.catch_up()
    in_log_order = dump_views(services)
    monkeypatch.setattr(replay, "REPLAY_EVENTS", 300)
    monkeypatch.setattr(replay, "REPLAY_WINDOW", 200)
    episodes = services.projection("episodes")
    assert isinstance(episodes, EpisodesProjection)
    derived = episodes.derivations
    applied = services.rebuild("episodes")
    log = services.app.recorder.select_notifications(1, 10**6, topics=episodes.topics)
    assert applied == len(log) and episodes.derivations - derived == 200  # nothing twice
    assert dump_views(services) == in_log_order
    starts = [start for start, _ in reading_ahead]
    assert len(starts) > 10 and starts == sorted(set(starts))  # each batch read once, in turn
    threads = [thread for _, thread in reading_ahead]
    assert threads[0] == threading.current_thread().name  # the first is read at once
    assert all(thread.startswith("ehqa-read-ahead") for thread in threads[1:])
    assert not [t for t in threading.enumerate() if t.name.startswith("ehqa-read-ahead")]
    assert runner.replay_target(services.views, "episodes") is None


def test_a_read_that_is_not_the_one_read_ahead_is_read_at_once(
    services: Services, reading_ahead: list[tuple[int, str]]
) -> None:
    log, topics, target = simulated_log(services, seed=22)
    ahead = ReadAhead(log)
    try:
        first = ahead.read(topics, 0, target, 100)
        assert 0 < first.end < target
        # the position moved meanwhile (another process wrote a batch): read where it is now
        elsewhere = first.end + 5
        moved = ahead.read(topics, elsewhere, target, 100)
        assert moved == read_batch(log, topics, elsewhere, target, 100)
        following = ahead.read(topics, moved.end, target, 100)  # (read ahead again)
        assert following == read_batch(log, topics, moved.end, target, 100)
    finally:
        ahead.close()
    here = threading.current_thread().name
    assert [(start, thread == here) for start, thread in reading_ahead[:4]] == [
        (0, True), (first.end, False), (elsewhere, True), (moved.end, False)
    ]  # fmt: skip


def test_a_read_ahead_that_failed_fails_the_batch_that_takes_it(
    services: Services, monkeypatch: pytest.MonkeyPatch, reading_ahead: list[tuple[int, str]]
) -> None:
    log, topics, target = simulated_log(services, seed=23)
    read = replay.read_batch

    def failing(*args: object) -> Reading:
        if threading.current_thread().name.startswith("ehqa-read-ahead"):
            raise ConnectionError("the store went away")
        return read(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(replay, "read_batch", failing)
    ahead = ReadAhead(log)
    try:
        first = ahead.read(topics, 0, target, 100)
        with pytest.raises(ConnectionError, match="went away"):
            ahead.read(topics, first.end, target, 100)
        # nothing is left read ahead: the next read is the store's own answer
        assert ahead.read(topics, first.end, target, 100).end > first.end
    finally:
        ahead.close()
