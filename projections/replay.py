"""Replay by aggregate: a view derived from aggregates (`Replayable`) is rebuilt, or caught up
from empty, one whole history at a time, so each aggregate's rows are derived once and a batch's
memory is bounded however long the log (see `replay_batch`)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections.db import Cursor, ViewDatabase
from projections.failures import Failure, bury, store_failure
from projections.histories import EventLog, Opening, Stored
from projections.tracking import Moved, move_replay
from projections.views import History, Projection, Replayable

Progress = Callable[[int], None]  # told how many notifications further through the log
# A view derived from aggregates (`Replayable`) is rebuilt, or caught up from empty, aggregate by
# aggregate: a batch takes the whole histories of the aggregates first seen next in the log, as
# many as hold REPLAY_EVENTS events (at least one history), so each aggregate's rows are derived
# once and a batch's memory is bounded however long the log (on PostgreSQL the next batch's
# stored events are read meanwhile: two batches' at most, see `ReadAhead`).
REPLAY_EVENTS = 10_000
REPLAY_OPENINGS = 1_000  # aggregates a replay batch looks at, at most
REPLAY_WINDOW = 20_000  # notifications a replay batch looks through for first events, at most


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Replaying a batch allocates a great many small objects, most of which live on in the
    projections' caches, and writing it as many rows again; none form reference cycles, so the
    cycle collector only re-walks them again and again (it doubled the cost of a rebuild, and
    writing the `children` view's rows took a third longer). It resumes when the batch is
    written."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def replayer(app: Application[Any], db: ViewDatabase, projection: Projection) -> EventLog | None:
    """The log to replay the view from aggregate by aggregate, if the view and store allow."""
    return EventLog.of(app, db) if hasattr(projection, "replay") else None


@dataclass(frozen=True)
class Reading:
    """What one replay batch reads: the aggregates it takes (by their first events), the
    position it moves to, and each taken aggregate's stored events up to the target."""

    taken: list[Opening]
    end: int
    found: dict[UUID, list[Stored]]


def read_batch(log: EventLog, topics: Sequence[str], start: int, target: int, size: int) -> Reading:
    """The whole histories, up to `target`, of the aggregates whose first events come next
    after `start` (within REPLAY_WINDOW notifications), as many as hold `size` events (at
    least one), and the position that batch moves to (see `replay_batch`)."""
    size = max(1, min(size, REPLAY_EVENTS))
    limit, upto = min(REPLAY_OPENINGS, size), min(target, start + REPLAY_WINDOW)
    openings = log.openings(topics, start, upto, limit)
    taken: list[Opening] = []
    held = 0
    for opening in openings:
        if taken and held + opening.length > size:
            break
        taken.append(opening)
        held += opening.length
    end = upto if len(taken) == len(openings) < limit else taken[-1].id
    return Reading(taken, end, log.histories(taken, topics, target))


class ReadAhead:
    """The log a replay reads, one batch ahead where the log says it pays (`read_ahead`: on
    PostgreSQL, whose server finds the events in a process of its own): while a batch is
    replayed and written, the next one's histories are read on a thread of its own (taking a
    connection of its own), so the server's work overlaps the replay's. Only what is at or
    below the replay's target is read, which no later write changes, so a batch read ahead is
    the batch read then. A read that is not the one read ahead (the position moved meanwhile)
    is read at once and what was read ahead dropped; a read ahead that failed fails the batch
    that takes it, as its own read would."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._pool: ThreadPoolExecutor | None = None
        self._next: tuple[tuple[Any, ...], Future[Reading]] | None = None

    def read(self, topics: Sequence[str], start: int, target: int, size: int) -> Reading:
        wanted = (tuple(topics), start, target, size)
        ahead, self._next = self._next, None
        if ahead is not None and ahead[0] == wanted:
            reading = ahead[1].result()
        else:
            if ahead is not None:
                ahead[1].cancel()
            reading = read_batch(self.log, topics, start, target, size)
        if reading.end < target and self.log.read_ahead:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="ehqa-read-ahead")
            following = (tuple(topics), reading.end, target, size)
            self._next = (following, self._pool.submit(read_batch, self.log, *following))
        return reading

    def close(self) -> None:
        """Drop what was read ahead and end its thread (waiting for a read under way)."""
        self._next = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def replay_batch(
    app: Application[Any],
    db: ViewDatabase,
    projection: Replayable,
    log: ReadAhead,
    start: int,
    target: int,
    size: int,
    progress: Progress | None,
) -> int:
    """One batch of a replay: the whole histories, up to `target`, of the aggregates whose first
    events come next after `start` (within REPLAY_WINDOW notifications), as many as hold `size`
    events (and at least one). The position moves to the last of those first events (past the
    window when it held no more; to `target` with the last batch): every aggregate first seen up
    to the position is in the view with all its events up to `target`, none seen after it is.
    Returns how many events were applied. Raises Moved."""
    reading = log.read(projection.topics, start, target, size)
    taken, end, found = reading.taken, reading.end, reading.found
    last = end == target
    histories: list[History] = []
    dead: list[Failure] = []
    failed: list[Failure] = []
    count = 0
    try:
        with cycle_collection_paused():
            decode = reader_of(projection, app)
            for opening in taken:
                events = []
                for stored in found[opening.originator_id]:
                    try:
                        events.append((stored.id, decode(cast(Notification, stored))))
                    except Exception as error:
                        if store_failure(error):
                            raise
                        dead.append((stored.notification(), error))
                count += len(found[opening.originator_id])
                histories.append(History(opening.id, events))
            prepared = projection.replay(histories)
            with db.transaction() as cur:
                move_replay(cur, projection.name, start, end, target, last)
                bury(cur, projection.name, dead)
                projection.process(cur, prepared)
    except Exception as error:
        if isinstance(error, Moved) or store_failure(error):
            raise
        with db.transaction() as cur:
            move_replay(cur, projection.name, start, end, target, last)
            failed = _one_by_one(cur, projection, histories, found)
            bury(cur, projection.name, dead + failed)
    if progress and end > start:
        progress(end - start)
    return count - len(dead) - len(failed)


def reader_of(projection: Projection, app: Application[Any]) -> Callable[[Any], Any]:
    """What a projection is given of each stored event (in a batch, or a replay's histories):
    the domain event (the application's mapper decodes it), or what its own `reader` makes of
    it."""
    reader = getattr(projection, "reader", None)
    return app.mapper.to_domain_event if reader is None else reader(app.mapper)


def _one_by_one(
    cur: Cursor, projection: Replayable, histories: Sequence[History],
    found: dict[UUID, list[Stored]],
) -> list[Failure]:  # fmt: skip
    """Write each history on its own (within the batch's transaction), and one that fails
    event by event, as catch-up isolates a failed batch: an event that cannot be applied, or
    whose rows cannot be derived or written, is kept out. Returns those events and why."""
    notes = {stored.id: stored for events in found.values() for stored in events}
    failures: list[Failure] = []
    for history in histories:
        try:
            with _savepoint(cur):
                projection.process(cur, projection.replay([history]))
            continue
        except Exception as error:
            if store_failure(error):
                raise
        for seq, outcome in projection.replay_stepwise(history):
            if isinstance(outcome, Exception):
                failures.append((notes[seq].notification(), outcome))
                continue
            try:
                with _savepoint(cur):
                    projection.process(cur, outcome)
            except Exception as error:
                if store_failure(error):
                    raise
                failures.append((notes[seq].notification(), error))
    return failures


@contextmanager
def _savepoint(cur: Cursor) -> Iterator[None]:
    cur.execute("SAVEPOINT ehqa_replay")
    try:
        yield
    except BaseException:
        cur.execute("ROLLBACK TO SAVEPOINT ehqa_replay")
        cur.execute("RELEASE SAVEPOINT ehqa_replay")
        raise
    cur.execute("RELEASE SAVEPOINT ehqa_replay")
