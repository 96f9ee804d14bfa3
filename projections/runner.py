"""Catch-up, rebuild and live following, with each view's tracking position kept exactly.

A batch of events and the move of its projection's tracking position commit in one
transaction, and the move is a compare-and-set: a crash loses only the uncommitted batch, and
two processes catching up at once never apply a batch twice.

An event a view cannot decode or apply is dead-lettered for that view (`ehqa_dead_letters`) and
skipped, in the same transaction as the batch's rows and the move of the position: one bad
event never stops a view, and none is dead-lettered twice or lost.
"""

from __future__ import annotations

import gc
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

import eventsourcing.persistence
import psycopg
from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections.db import Cursor, ViewDatabase, secondary_indexes
from projections.histories import EventLog, Opening, Stored
from projections.views import History, Projection, Replayable

Progress = Callable[[int], None]  # told how many notifications further through the log
PAGE = 1000  # notifications read from the log at a time
CATCH_UP_BATCH = 1000
FAR_BEHIND = 20_000  # a view further behind the log than this catches up in rebuild-sized batches
# A rebuild writes in far larger batches: a batch writes each episode's rows once, however many
# of its events it holds, and in a live service's log an episode's events are spread out among
# everyone else's. Each projection ends a batch early when its own memory bound is reached.
REBUILD_BATCH = 1_000_000
# A view derived from aggregates (`Replayable`) is rebuilt, or caught up from empty, aggregate by
# aggregate: a batch takes the whole histories of the aggregates first seen next in the log, as
# many as hold REPLAY_EVENTS events (at least one history), so each aggregate's rows are derived
# once and a batch's memory is bounded however long the log.
REPLAY_EVENTS = 10_000
REPLAY_OPENINGS = 1_000  # aggregates a replay batch looks at, at most
REPLAY_WINDOW = 20_000  # notifications a replay batch looks through for first events, at most
REPLAYING = "{}:replay"  # the tracking row holding where a view's replay ends, while it runs


REASON_LENGTH = 500  # characters of a dead letter's reason kept


@dataclass(frozen=True)
class ViewStatus:
    name: str
    position: int
    log_position: int
    pending: bool
    dead_letters: int = 0


@dataclass(frozen=True)
class DeadLetter:
    """An event a view could not decode or apply, and skipped."""

    view: str
    notification_id: int
    originator_id: str | None
    originator_version: int | None
    topic: str | None
    reason: str
    recorded_at: str


def position(db: ViewDatabase, name: str) -> int:
    rows = db.query("SELECT position FROM ehqa_tracking WHERE projection = ?", (name,))
    return int(rows[0][0]) if rows else 0


def _advance(cur: Cursor, name: str, old: int, new: int) -> bool:
    if old == 0:
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, 0)"
            " ON CONFLICT (projection) DO NOTHING",
            (name,),
        )
    cur.execute(
        "UPDATE ehqa_tracking SET position = ? WHERE projection = ? AND position = ?",
        (new, name, old),
    )
    return cur.rowcount == 1


class Moved(Exception):
    """Another process advanced this view first; the batch is rolled back and read again."""


def replay_target(db: ViewDatabase, name: str) -> int | None:
    """Where the view's replay ends (the last event it takes), while one is under way."""
    rows = db.query(
        "SELECT position FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),)
    )
    return int(rows[0][0]) if rows else None


def _target_in(cur: Cursor, name: str) -> int | None:
    cur.execute(
        "SELECT position FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),)
    )
    row = cur.fetchone()
    return None if row is None else int(row[0])


def _move(cur: Cursor, name: str, old: int, new: int) -> None:
    """Move the view's position past a batch read in log order: never while it replays (the
    check follows the compare-and-set, which holds the tracking row, so a replay that begins
    at the same moment and this batch cannot both commit)."""
    if not _advance(cur, name, old, new) or _target_in(cur, name) is not None:
        raise Moved


# Failures of the store itself (unreachable, a missing grant or table, a corrupt file, a broken
# constraint): they are raised, never dead-lettered, or one bad GRANT would skip the whole log.
STORE_ERRORS = (psycopg.Error, sqlite3.Error, eventsourcing.persistence.PersistenceError)
# ... except a value one event carries that the store cannot hold (NUL in PostgreSQL text):
# that is the event's failure, so it is dead-lettered.
EVENT_DATA_ERRORS = (psycopg.DataError,)


def store_failure(error: BaseException | None) -> bool:
    """The store failed (not the event): so does one that caused the error, such as the key an
    event is encrypted with not being given (raised inside the library's decoding error)."""
    if error is None:
        return False
    if isinstance(error, STORE_ERRORS) and not isinstance(error, EVENT_DATA_ERRORS):
        return True
    return store_failure(error.__cause__)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return f"\\x{code:02x}"
    if 0xD800 <= code < 0xE000:  # (a lone surrogate cannot be encoded as UTF-8)
        return f"\\u{code:04x}"
    return char


def storable(text: str, length: int = REASON_LENGTH) -> str:
    """`text` with control characters (NUL above all, which PostgreSQL text cannot hold) and lone
    surrogates escaped, cut to `length` characters."""
    escaped = "".join(map(_escape, text))
    return escaped if len(escaped) <= length else escaped[: length - 1] + "\u2026"


def describe_failure(error: BaseException) -> str:
    return storable(f"{type(error).__name__}: {error}")


Failure = tuple[Notification, BaseException]  # an event that cannot be applied, and why


class _Window:
    """The events after `start` (at most `limit`, none after `stop`), read from the log a page
    at a time as a projection iterates them. It remembers how many the projection took and the
    id of the last one: a projection may stop early, and the batch then ends there. An event
    that cannot be decoded is not given to the projection but kept in `dead`."""

    def __init__(self, app: Application[Any], topics: list[str], start: int, limit: int,
                 progress: Progress | None, stop: int | None = None) -> None:  # fmt: skip
        self._app, self._topics, self._limit, self._progress = app, topics, limit, progress
        self._stop = stop
        self.count, self.last, self._reported = 0, start, start
        self.dead: list[Failure] = []
        self.notification: Notification | None = None  # the last one taken

    @property
    def applied(self) -> int:
        return self.count - len(self.dead)

    def report(self) -> None:
        """Tell the progress bar how far through the log the batch has come since it was last
        told (in notifications: a view reads only its own topics, but the bar is the log)."""
        if self._progress and self.last > self._reported:
            self._progress(self.last - self._reported)
        self._reported = self.last

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        read_to = self.last
        while self.count < self._limit:
            page = self._app.recorder.select_notifications(
                start=read_to + 1, limit=min(PAGE, self._limit - self.count), topics=self._topics,
                stop=self._stop,
            )  # fmt: skip
            if not page:
                return
            read_to = page[-1].id
            for notification in page:
                self.count += 1
                self.last, self.notification = notification.id, notification
                try:
                    event = self._app.mapper.to_domain_event(notification)
                except Exception as error:
                    if store_failure(error):  # (e.g. the key it is encrypted with is not given)
                        raise
                    self.dead.append((notification, error))
                    continue
                yield notification.id, event
            self.report()


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """Replaying a batch allocates a great many small objects, most of which live on in the
    projections' caches; none form reference cycles, so the cycle collector only re-walks them
    again and again (it doubled the cost of a rebuild). It resumes when the batch is prepared."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _hex(ident: UUID | str) -> str:
    return ident.hex if isinstance(ident, UUID) else storable(str(ident))


def _bury(cur: Cursor, name: str, failures: Sequence[Failure]) -> None:
    """Dead-letter events for a view (in the transaction that moves its position past them)."""
    if not failures:
        return
    recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
    cur.executemany(
        "INSERT INTO ehqa_dead_letters (projection, notification_id, originator_id,"
        " originator_version, topic, reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (name, n.id, _hex(n.originator_id), n.originator_version, storable(n.topic),
             describe_failure(error), recorded_at)
            for n, error in failures
        ],
    )  # fmt: skip


def _batch(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    start: int,
    limit: int,
    progress: Progress | None = None,
    stop: int | None = None,
) -> tuple[_Window, Exception | None]:
    """Prepare the events after `start`, then write them and move the position past them in
    one transaction. Returns the window taken and, if the batch could not be prepared or
    written (and nothing was), why. Raises Moved, and failures of the store itself."""
    window = _Window(app, projection.topics, start, limit, progress, stop)
    try:
        with cycle_collection_paused():
            prepared = projection.prepare(window)
        window.report()
        if window.count:
            with db.transaction() as cur:
                _move(cur, projection.name, start, window.last)
                _bury(cur, projection.name, window.dead)
                projection.process(cur, prepared)
    except Exception as error:
        if isinstance(error, Moved) or store_failure(error):
            raise
        window.report()
        return window, error
    return window, None


def _isolate(
    app: Application[Any], db: ViewDatabase, projection: Projection, start: int, stop: int,
    size: int,
) -> int:  # fmt: skip
    """Apply again the events after `start` up to `stop`, a batch of which failed: in batches of
    1,000 (when the failed batch was larger), and a batch that fails again event by event. An
    event that fails alone is dead-lettered, and the position moved past it; the others of the
    batch are applied. Returns how many were applied."""
    size = 1 if size <= CATCH_UP_BATCH else CATCH_UP_BATCH
    applied, at = 0, start
    while at < stop:
        window, failure = _batch(app, db, projection, at, size, stop=stop)
        if not window.count:
            break
        if failure is None:
            applied += window.applied
        elif size > 1:
            applied += _isolate(app, db, projection, at, window.last, size)
        else:
            assert window.notification is not None
            with db.transaction() as cur:
                _move(cur, projection.name, at, window.last)
                _bury(cur, projection.name, window.dead or [(window.notification, failure)])
        at = window.last
    return applied


def _replayer(app: Application[Any], db: ViewDatabase, projection: Projection) -> EventLog | None:
    """The log to replay the view from aggregate by aggregate, if the view and store allow."""
    return EventLog.of(app, db) if hasattr(projection, "replay") else None


def _begin_replay(db: ViewDatabase, name: str, target: int) -> bool:
    """Mark an empty view (position 0) as replaying up to `target`; False if it has moved."""
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, 0)"
            " ON CONFLICT (projection) DO NOTHING",
            (name,),
        )
        cur.execute(  # (takes the tracking row, as each batch's compare-and-set does)
            "UPDATE ehqa_tracking SET position = 0 WHERE projection = ? AND position = 0", (name,)
        )
        if cur.rowcount != 1:
            return False
        cur.execute(
            "INSERT INTO ehqa_tracking (projection, position) VALUES (?, ?)"
            " ON CONFLICT (projection) DO NOTHING",
            (REPLAYING.format(name), target),
        )
    return True


def _move_replay(cur: Cursor, name: str, old: int, new: int, target: int, last: bool) -> None:
    """Move a replaying view's position (and end the replay with its last batch)."""
    if _target_in(cur, name) != target or not _advance(cur, name, old, new):
        raise Moved  # (another process moved it, or began another rebuild)
    if last:
        cur.execute("DELETE FROM ehqa_tracking WHERE projection = ?", (REPLAYING.format(name),))


def _replay_batch(
    app: Application[Any],
    db: ViewDatabase,
    projection: Replayable,
    log: EventLog,
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
    topics, size = projection.topics, max(1, min(size, REPLAY_EVENTS))
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
    last = end == target
    found = log.histories(taken, topics, target)
    histories: list[History] = []
    dead: list[Failure] = []
    failed: list[Failure] = []
    count = 0
    try:
        with cycle_collection_paused():
            decode = app.mapper.to_domain_event
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
            _move_replay(cur, projection.name, start, end, target, last)
            _bury(cur, projection.name, dead)
            projection.process(cur, prepared)
    except Exception as error:
        if isinstance(error, Moved) or store_failure(error):
            raise
        with db.transaction() as cur:
            _move_replay(cur, projection.name, start, end, target, last)
            failed = _one_by_one(cur, projection, histories, found)
            _bury(cur, projection.name, dead + failed)
    if progress and end > start:
        progress(end - start)
    return count - len(dead) - len(failed)


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


def catch_up(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int | None = None,
    progress: Progress | None = None,
    replay: bool = True,
) -> int:
    """Apply every event after the view's position; return how many were applied.

    Each batch is prepared outside the transaction (decoded, replayed, its rows derived), then
    written together with the move of the view's position. Batches hold 1,000 events, keeping
    each write short while a server follows the log; a view far behind (after a bulk import,
    or a long stop) takes as many as the projection will hold, like a rebuild.

    An event that cannot be decoded is dead-lettered with its batch. A batch that cannot be
    prepared or written is done again in smaller batches, then event by event, to find the
    events that cannot be applied; each is dead-lettered and skipped, the others applied.

    A view derived from aggregates that is empty and far behind is replayed aggregate by
    aggregate instead (see `_replay_batch`), unless `replay` is False; a replay under way (a
    rebuild's, or one killed half-way) is always carried on to its end first.
    """
    applied, log = 0, _replayer(app, db, projection)
    while True:
        start = position(db, projection.name)
        if log is not None:
            target = replay_target(db, projection.name)
            if (
                target is None
                and replay
                and start == 0
                and (app.recorder.max_notification_id() or 0) > FAR_BEHIND
            ):
                wanted = log.last(projection.topics)  # (an empty view far behind: replay it)
                target = wanted if wanted and _begin_replay(db, projection.name, wanted) else None
            if target is not None:
                with suppress(Moved):  # (then the position is read again)
                    applied += _replay_batch(
                        app, db, cast(Replayable, projection), log, start, target,
                        batch_size or REBUILD_BATCH, progress,
                    )  # fmt: skip
                continue
        if batch_size is None:  # (decided once, from the first position read)
            head = app.recorder.max_notification_id() or 0
            if head <= start:
                return applied  # nothing recorded since: no need to read the log
            batch_size = REBUILD_BATCH if head - start > FAR_BEHIND else CATCH_UP_BATCH
        try:
            window, failure = _batch(app, db, projection, start, batch_size, progress)
            if failure is not None:
                if not window.count:  # (failed before taking an event: not the events' fault)
                    raise failure
                applied += _isolate(app, db, projection, start, window.last, batch_size)
                continue
        except Moved:
            continue
        if not window.count:
            return applied
        applied += window.applied


def catch_up_all(app: Application[Any], db: ViewDatabase, projections: Sequence[Projection]) -> int:
    return sum(catch_up(app, db, projection) for projection in projections)


def clears(projection: Projection) -> list[str]:
    """What emptying a view deletes (a view may share a table with another, row by row)."""
    own = getattr(projection, "clears", None)
    return list(own) if own is not None else [f"DELETE FROM {table}" for table in projection.tables]


def rebuild(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int = REBUILD_BATCH,
    progress: Progress | None = None,
    replay: bool = True,
) -> int:
    """Empty the view and replay every event into it (its indexes are built at the end).

    A view derived from aggregates is replayed aggregate by aggregate up to the last of its
    events when the rebuild begins (see `_replay_batch`), then caught up as usual; the others,
    and every view with `replay` False, in log order. A rebuild killed half-way is resumed by
    the next catch-up.
    """
    indexes = secondary_indexes(projection.tables)
    log = _replayer(app, db, projection) if replay else None
    target = log.last(projection.topics) if log is not None else 0
    with db.transaction() as cur:
        for index, _ in indexes:
            cur.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in clears(projection):
            cur.execute(statement)
        cur.execute(
            "DELETE FROM ehqa_tracking WHERE projection IN (?, ?)",
            (projection.name, REPLAYING.format(projection.name)),
        )
        cur.execute("DELETE FROM ehqa_dead_letters WHERE projection = ?", (projection.name,))
        if target:
            cur.execute(
                "INSERT INTO ehqa_tracking (projection, position) VALUES (?, ?)",
                (REPLAYING.format(projection.name), target),
            )
    log_table = getattr(app.recorder, "events_table_name", None)
    if log_table:  # (after a bulk import the planner's figures for the log are stale, and
        db.analyze([log_table])  # PostgreSQL then reads each page of one topic by a full scan)
    applied = catch_up(app, db, projection, batch_size, progress, replay)
    with db.transaction() as cur:
        for _, create in indexes:
            cur.execute(create)
    db.analyze(projection.tables)
    return applied


def status(
    app: Application[Any], db: ViewDatabase, projections: Sequence[Projection]
) -> list[ViewStatus]:
    log_position = app.recorder.max_notification_id() or 0
    dead = dict(db.query("SELECT projection, COUNT(*) FROM ehqa_dead_letters GROUP BY projection"))
    found = []
    for projection in projections:
        at = position(db, projection.name)
        pending = bool(
            app.recorder.select_notifications(start=at + 1, limit=1, topics=projection.topics)
        )
        found.append(
            ViewStatus(
                projection.name, at, log_position, pending, int(dead.get(projection.name, 0))
            )
        )
    return found


def dead_letters(db: ViewDatabase, view: str | None = None) -> list[DeadLetter]:
    """The events each view (or one) skipped, in log order."""
    sql = (
        "SELECT projection, notification_id, originator_id, originator_version, topic, reason,"
        " recorded_at FROM ehqa_dead_letters"
    )
    rows = (
        db.query(sql + " WHERE projection = ? ORDER BY notification_id", (view,))
        if view
        else db.query(sql + " ORDER BY projection, notification_id")
    )
    return [DeadLetter(*row) for row in rows]


def follow(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    stop: threading.Event,
    poll_interval: float = 1.0,
    on_applied: Callable[[int], None] | None = None,
) -> None:
    """Keep the views current until `stop` is set.

    On PostgreSQL the recorder's subscription (LISTEN/NOTIFY) wakes the loop as soon as an
    event is recorded; where the recorder cannot subscribe (SQLite) the log is polled.
    """
    try:
        subscription = app.recorder.subscribe(gt=app.recorder.max_notification_id())
    except NotImplementedError:
        subscription = None
    if subscription is None:
        while not stop.is_set():
            applied = catch_up_all(app, db, projections)
            if applied and on_applied:
                on_applied(applied)
            stop.wait(poll_interval)
        return

    def stop_subscription() -> None:
        stop.wait()
        subscription.stop()

    threading.Thread(target=stop_subscription, daemon=True).start()
    with subscription:
        applied = catch_up_all(app, db, projections)
        if applied and on_applied:
            on_applied(applied)
        for _ in subscription:
            applied = catch_up_all(app, db, projections)
            if applied and on_applied:
                on_applied(applied)
            if stop.is_set():
                break


def scan_rate(
    app: Application[Any], each_page: Callable[[Sequence[Notification]], None] | None = None
) -> tuple[int, float]:
    """The raw notification-log scan: (notifications, seconds) to read the whole log, a page at
    a time and with the cycle collector paused, as catch-up reads it (`each_page` is given
    every page, to time what a projection must do beyond reading)."""
    started, count, start = time.perf_counter(), 0, 1
    with cycle_collection_paused():
        while page := app.recorder.select_notifications(start=start, limit=PAGE):
            if each_page:
                each_page(page)
            count += len(page)
            start = page[-1].id + 1
    return count, time.perf_counter() - started
