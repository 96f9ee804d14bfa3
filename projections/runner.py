"""Catch-up, rebuild and live following, with each view's tracking position kept exactly.

A batch of events and the move of its projection's tracking position commit in one
transaction, and the move is a compare-and-set: a crash loses only the uncommitted batch, and
two processes catching up at once never apply a batch twice.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from projections.db import Cursor, ViewDatabase, secondary_indexes
from projections.views import Projection

Progress = Callable[[int], None]  # told how many notifications further through the log
PAGE = 1000  # notifications read from the log at a time
CATCH_UP_BATCH = 1000
FAR_BEHIND = 20_000  # a view further behind the log than this catches up in rebuild-sized batches
# A rebuild writes in far larger batches: a batch writes each episode's rows once, however many
# of its events it holds, and in a live service's log an episode's events are spread out among
# everyone else's. Each projection ends a batch early when its own memory bound is reached.
REBUILD_BATCH = 1_000_000


@dataclass(frozen=True)
class ViewStatus:
    name: str
    position: int
    log_position: int
    pending: bool


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


class _Window:
    """The events after `start` (at most `limit`), read from the log a page at a time as a
    projection iterates them. It remembers how many the projection took and the id of the
    last one: a projection may stop early, and the batch then ends there."""

    def __init__(self, app: Application[Any], topics: list[str], start: int, limit: int,
                 progress: Progress | None) -> None:  # fmt: skip
        self._app, self._topics, self._limit, self._progress = app, topics, limit, progress
        self.count, self.last, self._reported = 0, start, start

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
                start=read_to + 1, limit=min(PAGE, self._limit - self.count), topics=self._topics
            )
            if not page:
                return
            read_to = page[-1].id
            for notification in page:
                self.count += 1
                self.last = notification.id
                yield notification.id, self._app.mapper.to_domain_event(notification)
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


def catch_up(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Apply every event after the view's position; return how many were applied.

    Each batch is prepared outside the transaction (decoded, replayed, its rows derived), then
    written together with the move of the view's position. Batches hold 1,000 events, keeping
    each write short while a server follows the log; a view far behind (after a bulk import,
    or a long stop) takes as many as the projection will hold, like a rebuild.
    """
    applied = 0
    while True:
        start = position(db, projection.name)
        if batch_size is None:  # (decided once, from the first position read)
            head = app.recorder.max_notification_id() or 0
            if head <= start:
                return applied  # nothing recorded since: no need to read the log
            batch_size = REBUILD_BATCH if head - start > FAR_BEHIND else CATCH_UP_BATCH
        window = _Window(app, projection.topics, start, batch_size, progress)
        with cycle_collection_paused():
            prepared = projection.prepare(window)
        window.report()
        if not window.count:
            return applied
        try:
            with db.transaction() as cur:
                if not _advance(cur, projection.name, start, window.last):
                    raise Moved
                projection.process(cur, prepared)
        except Moved:
            continue
        applied += window.count


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
) -> int:
    """Empty the view and replay every event into it (its indexes are built at the end)."""
    indexes = secondary_indexes(projection.tables)
    with db.transaction() as cur:
        for index, _ in indexes:
            cur.execute(f"DROP INDEX IF EXISTS {index}")
        for statement in clears(projection):
            cur.execute(statement)
        cur.execute("DELETE FROM ehqa_tracking WHERE projection = ?", (projection.name,))
    log_table = getattr(app.recorder, "events_table_name", None)
    if log_table:  # (after a bulk import the planner's figures for the log are stale, and
        db.analyze([log_table])  # PostgreSQL then reads each page of one topic by a full scan)
    applied = catch_up(app, db, projection, batch_size, progress)
    with db.transaction() as cur:
        for _, create in indexes:
            cur.execute(create)
    db.analyze(projection.tables)
    return applied


def status(
    app: Application[Any], db: ViewDatabase, projections: Sequence[Projection]
) -> list[ViewStatus]:
    log_position = app.recorder.max_notification_id() or 0
    found = []
    for projection in projections:
        at = position(db, projection.name)
        pending = bool(
            app.recorder.select_notifications(start=at + 1, limit=1, topics=projection.topics)
        )
        found.append(ViewStatus(projection.name, at, log_position, pending))
    return found


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
