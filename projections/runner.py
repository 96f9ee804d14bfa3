"""Catch-up, rebuild and live following, with each view's tracking position kept exactly.

A batch of events and the move of its projection's tracking position commit in one
transaction, and the move is a compare-and-set: a crash loses only the uncommitted batch, and
two processes catching up at once never apply a batch twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import Application

from projections.db import Cursor, ViewDatabase
from projections.views import Projection

Progress = Callable[[int], None]


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


def catch_up(
    app: Application[Any],
    db: ViewDatabase,
    projection: Projection,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Apply every event after the view's position; return how many were applied."""
    applied = 0
    while True:
        start = position(db, projection.name)
        notifications = app.recorder.select_notifications(
            start=start + 1, limit=batch_size, topics=projection.topics
        )
        if not notifications:
            return applied
        batch = [(n.id, app.mapper.to_domain_event(n)) for n in notifications]
        try:
            with db.transaction() as cur:
                if not _advance(cur, projection.name, start, notifications[-1].id):
                    raise Moved
                projection.process(cur, batch)
        except Moved:
            continue
        applied += len(batch)
        if progress:
            progress(len(batch))


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
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Empty the view and replay every event into it."""
    with db.transaction() as cur:
        for statement in clears(projection):
            cur.execute(statement)
        cur.execute("DELETE FROM ehqa_tracking WHERE projection = ?", (projection.name,))
    applied = catch_up(app, db, projection, batch_size, progress)
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


def scan_rate(app: Application[Any], batch_size: int = 1000) -> tuple[int, float]:
    """The raw notification-log scan: (notifications, seconds) to read the whole log."""
    started, count, start = time.perf_counter(), 0, 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=batch_size)
        if not page:
            return count, time.perf_counter() - started
        count += len(page)
        start = page[-1].id + 1
