"""Catch-up, rebuild and live following, with each view's tracking position kept exactly.

A batch of events and the move of its projection's tracking position commit in one
transaction, and the move is a compare-and-set: a crash loses only the uncommitted batch, and
two processes catching up at once never apply a batch twice.

An event a view cannot decode or apply is dead-lettered for that view (`ehqa_dead_letters`) and
skipped, in the same transaction as the batch's rows and the move of the position: one bad
event never stops a view, and none is dead-lettered twice or lost.

The parts: `tracking` (positions and their compare-and-set moves), `failures` (dead letters),
`replay` (rebuilding a view derived from aggregates one whole history at a time).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any, cast

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections.bulk import analyze_log, bulk_writes, emptying
from projections.db import ViewDatabase, secondary_indexes
from projections.failures import DeadLetter, Failure, bury, dead_letters, store_failure
from projections.freshness import all_current, in_recorder
from projections.histories import EventLog, Stored, read_page
from projections.replay import (
    Progress,
    ReadAhead,
    cycle_collection_paused,
    reader_of,
    replay_batch,
    replayer,
)
from projections.tracking import (
    REPLAYING,
    Moved,
    begin_replay,
    move,
    position,
    replay_target,
)
from projections.views import Projection, Replayable

__all__ = [
    "CATCH_UP_BATCH", "FAR_BEHIND", "PAGE", "REBUILD_BATCH", "DeadLetter", "ViewStatus",
    "catch_up", "catch_up_all", "clears", "cycle_collection_paused", "dead_letters", "follow",
    "position", "rebuild", "replay_target", "scan_rate", "status",
]  # fmt: skip

PAGE = 1000  # notifications read from the log at a time
CATCH_UP_BATCH = 1000
FAR_BEHIND = 20_000  # a view further behind the log than this catches up in rebuild-sized batches
# A rebuild writes in far larger batches: a batch writes each episode's rows once, however many
# of its events it holds, and in a live service's log an episode's events are spread out among
# everyone else's. Each projection ends a batch early when its own memory bound is reached.
REBUILD_BATCH = 1_000_000
SKIP_AT_LEAST = PAGE  # notifications without a view's events it is moved past (`_skip_to`)


@dataclass(frozen=True)
class ViewStatus:
    name: str
    position: int
    log_position: int
    pending: bool
    dead_letters: int = 0


class _Window:
    """The events after `start` (at most `limit`, none after `stop`), read from the log a page
    at a time as a projection iterates them, each decoded by `read` (the application's mapper, or
    the projection's own `reader`: see `reader_of`). It remembers how many the projection took
    and the id of the last one: a projection may stop early, and the batch then ends there. An
    event that cannot be decoded is not given to the projection but kept in `dead`."""

    def __init__(self, app: Application[Any], topics: list[str], start: int, limit: int,
                 progress: Progress | None, stop: int | None = None,
                 read: Callable[[Notification], Any] | None = None,
                 log: EventLog | None = None) -> None:  # fmt: skip
        self._app, self._topics, self._limit, self._progress = app, topics, limit, progress
        self._stop, self._read, self._log = stop, read or app.mapper.to_domain_event, log
        self.count, self.last, self._reported = 0, start, start
        self.exhausted = False  # the log held none of its events after the last one taken
        self.dead: list[Failure] = []
        self.notification: Notification | Stored | None = None  # the last one taken

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
            page = self._page(read_to + 1, min(PAGE, self._limit - self.count))
            if not page:
                self.exhausted = True
                return
            read_to = page[-1].id
            for notification in page:
                self.count += 1
                self.last, self.notification = notification.id, notification
                try:
                    event = self._read(notification)
                except Exception as error:
                    if store_failure(error):  # (e.g. the key it is encrypted with is not given)
                        raise
                    self.dead.append((_notification(notification), error))
                    continue
                yield notification.id, event
            self.report()

    def _page(self, start: int, limit: int) -> Sequence[Notification]:
        # (a Stored is read as the Notification it stands for: the same fields, by name)
        page = read_page(self._app, self._log, self._topics, start, limit, self._stop)
        return cast(Sequence[Notification], page)


def _notification(read: Notification | Stored) -> Notification:
    return read.notification() if isinstance(read, Stored) else read


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
    read, log = reader_of(projection, app), EventLog.of(app, db)
    window = _Window(app, projection.topics, start, limit, progress, stop, read, log)
    try:
        with cycle_collection_paused():  # (while the batch is prepared and its rows written)
            prepared = projection.prepare(window)
            window.report()
            if window.count:
                with db.transaction() as cur:
                    move(cur, projection.name, start, window.last)
                    bury(cur, projection.name, window.dead)
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
                move(cur, projection.name, at, window.last)
                bury(
                    cur,
                    projection.name,
                    window.dead or [(_notification(window.notification), failure)],
                )
        at = window.last
    return applied


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
    aggregate instead (see `replay_batch`), unless `replay` is False; a replay under way (a
    rebuild's, or one killed half-way) is always carried on to its end first.

    A view none of whose events follow its position is moved to the head of the log (as read
    before the scan), so the next catch-up does not read those notifications again.
    """
    log = replayer(app, db, projection)
    ahead = ReadAhead(log) if log is not None else None
    try:
        return _catch_up(app, db, projection, batch_size, progress, replay, ahead)
    finally:
        if ahead is not None:
            ahead.close()


def _catch_up(
    app: Application[Any], db: ViewDatabase, projection: Projection, batch_size: int | None,
    progress: Progress | None, replay: bool, ahead: ReadAhead | None,
) -> int:  # fmt: skip
    applied = 0
    head = app.recorder.max_notification_id() or 0  # (read before any scan: see `_skip_to`)
    while True:
        start = position(db, projection.name)
        if ahead is not None:
            target = replay_target(db, projection.name)
            if target is None and replay and start == 0 and head > FAR_BEHIND:
                wanted = ahead.log.last(projection.topics)  # (an empty view far behind: replay it)
                target = wanted if wanted and begin_replay(db, projection.name, wanted) else None
            if target is not None:
                with suppress(Moved):  # (then the position is read again)
                    applied += replay_batch(
                        app, db, cast(Replayable, projection), ahead, start, target,
                        batch_size or REBUILD_BATCH, progress,
                    )  # fmt: skip
                continue
        if head <= start:
            return applied  # nothing recorded since: no need to read the log
        if batch_size is None:  # (decided once, from the first position read)
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
            _skip_to(db, projection.name, start, head)
            return applied
        applied += window.applied
        if window.exhausted:  # (it read past `head`: a new round would find nothing to take)
            _skip_to(db, projection.name, window.last, head)
            return applied


def _skip_to(db: ViewDatabase, name: str, start: int, head: int) -> None:
    """Move a view none of whose events follow `start` to `head`: it has nothing up to there.
    `head` was read before the scan that found nothing, and no event at or below it can commit
    later (SQLite has one writer; eventsourcing's PostgreSQL recorder locks the table while it
    inserts, so ids commit in order). Compare-and-set: if another process moved the view
    meanwhile, or a replay began, this move is given up and nothing is skipped. A gap shorter
    than SKIP_AT_LEAST is left (reading it again costs less than a write transaction)."""
    if head - start >= SKIP_AT_LEAST:
        with suppress(Moved), db.transaction() as cur:
            move(cur, name, start, head)


def catch_up_all(
    app: Application[Any], db: ViewDatabase, projections: Sequence[Projection],
    batch_size: int | None = None,
) -> int:  # fmt: skip
    return sum(catch_up(app, db, projection, batch_size) for projection in projections)


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
    """Empty the view and replay every event into it (its indexes are built at the end, and
    the store told that it writes in bulk meanwhile: see `bulk`).

    A view derived from aggregates is replayed aggregate by aggregate up to the last of its
    events when the rebuild begins (see `_replay_batch`), then caught up as usual; the others,
    and every view with `replay` False, in log order. A rebuild killed half-way is resumed by
    the next catch-up.
    """
    indexes = secondary_indexes(projection.tables)
    log = replayer(app, db, projection) if replay else None
    target = log.last(projection.topics) if log is not None else 0
    with db.transaction() as cur:
        for index, _ in indexes:
            cur.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in emptying(db, clears(projection)):
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
    if log_table:
        analyze_log(db, log_table)
    with bulk_writes(db):
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
    dead: dict[str, int] = dict(
        db.query("SELECT projection, COUNT(*) FROM ehqa_dead_letters GROUP BY projection")
    )
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


def follow(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    stop: threading.Event,
    poll_interval: float = 1.0,
    on_applied: Callable[[int], None] | None = None,
    batch_size: int | None = None,
    settle: float = 0.0,
    exclusive: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> None:
    """Keep the views current until `stop` is set (in batches of at most `batch_size` events,
    if given: a server's follower keeps each write short), each catch-up while `exclusive` is
    held (one catch-up at a time across processes, where the caller has such a lock), and only
    when a view has an event to take (looked at without it).

    On PostgreSQL the recorder's subscription (LISTEN/NOTIFY) wakes the loop as soon as an
    event is recorded (or `settle` seconds later, so that the events recorded meanwhile are
    taken together, and a server's writes, which catch their own views up at once, are not
    raced for them); one catch-up takes every event recorded before it began, and the wake-ups
    for those are passed over. Where the recorder cannot subscribe (SQLite) the log is polled.
    """
    try:
        subscription = app.recorder.subscribe(gt=app.recorder.max_notification_id())
    except NotImplementedError:
        subscription = None
    views = {projection.name: list(projection.topics) for projection in projections}
    newer = in_recorder(app.recorder)

    def caught_up() -> int:
        # (nothing to take, as usual beside a server whose writes catch their own views up:
        # found without taking the lock, which a write may be waiting for)
        if all_current(db, views, newer):
            return 0
        with exclusive():
            return catch_up_all(app, db, projections, batch_size)

    if subscription is None:
        while not stop.is_set():
            applied = caught_up()
            if applied and on_applied:
                on_applied(applied)
            stop.wait(poll_interval)
        return

    def stop_subscription() -> None:
        stop.wait()
        subscription.stop()

    threading.Thread(target=stop_subscription, daemon=True).start()
    with subscription:
        applied = caught_up()
        if applied and on_applied:
            on_applied(applied)
        covered = 0  # every event up to this one was recorded before a catch-up began
        for notification in subscription:
            if notification.id <= covered:
                continue
            if settle:
                stop.wait(settle)
            covered = app.recorder.max_notification_id() or 0
            applied = caught_up()
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
