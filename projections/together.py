"""Several views caught up in one pass: what a server's write waits for (its episode's views),
in a fraction of the round trips and transactions of catching each up alone.

One read of their tracking rows and of the log's head, one read of the log for each set of
topics (views of the same topics share it, and its decoded events unless a view has a `reader`
of its own: each view is given what the runner gives it), then one transaction that
moves every position to the head by one compare-and-set (as `runner.catch_up` moves each: no
event at or below the head can commit later) and writes every view's rows. On PostgreSQL that
is about a dozen round trips and one commit where catching three views up one by one takes
about twenty-five and three.

Only for the usual case: views a few events behind, none empty and none being replayed, every
event decoded and prepared whole, no other process moving a view meanwhile. Anything else is
answered None with nothing written, and the caller catches the views up one at a time
(`runner.catch_up`, which dead-letters, replays and retries as each case needs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from eventsourcing.application import Application

from projections.db import Cursor, ViewDatabase
from projections.failures import store_failure
from projections.histories import EventLog, read_page
from projections.protocol import Event, Projection
from projections.replay import reader_of
from projections.tracking import REPLAYING, Moved, move_all

MOST = 500  # notifications read at once; a view further behind is caught up alone


class _Taken:
    """A view's events from the shared page, counting how many its projection takes (a
    projection may end its batch early: then the joint batch is given up)."""

    def __init__(self, events: list[tuple[int, Event]]) -> None:
        self.events, self.count = events, 0

    def __iter__(self) -> Iterator[tuple[int, Event]]:
        for item in self.events:
            self.count += 1
            yield item


def catch_up_together(
    app: Application[Any],
    db: ViewDatabase,
    projections: Sequence[Projection],
    also: Callable[[Cursor], None] | None = None,
) -> int | None:
    """Every view of `projections` past every event recorded before this call, in one
    transaction (with what `also` writes: a server's writes' access-log rows): the events the
    views took, counted per view as the runner counts them; None (nothing written, `also`
    neither) where the views must be caught up one at a time."""
    names = [p.name for p in projections]
    asked = [*names, *(REPLAYING.format(name) for name in names)]
    marks = ", ".join("?" for _ in asked)
    query = f"SELECT projection, position FROM ehqa_tracking WHERE projection IN ({marks})"
    found: dict[str, int] = dict(db.query(query, asked))
    starts = {name: int(found.get(name) or 0) for name in names}
    if len(found) != len(names) or not all(starts.values()):
        return None  # (a replay under way, or an empty view: the runner decides)
    head = app.recorder.max_notification_id() or 0  # (every event up to it is committed)
    log = EventLog.of(app, db)  # (the log read as the runner reads it)
    groups: dict[frozenset[str], list[Projection]] = {}
    for projection in projections:  # (views of the same topics read the log once)
        groups.setdefault(frozenset(projection.topics), []).append(projection)
    work: list[tuple[Projection, int, Any]] = []
    taken_in_all = 0
    for topics, members in groups.items():
        begin = min(starts[p.name] for p in members)
        if begin >= head:
            continue
        page = read_page(app, log, sorted(topics), begin + 1, MOST, head)
        if len(page) == MOST:
            return None  # (far behind: in the runner's batches)
        read: dict[str | None, list[tuple[int, Any]]] = {}  # (by reader: the decoded, shared)
        for projection in members:
            at = starts[projection.name]
            if at >= head:
                continue
            key = projection.name if hasattr(projection, "reader") else None
            if key not in read:
                reader = reader_of(projection, app)
                try:
                    read[key] = [(n.id, reader(n)) for n in page]
                except Exception as error:
                    if store_failure(error):
                        raise
                    return None  # (an event that cannot be read: dead-lettered by the runner)
            taken = _Taken([(i, event) for i, event in read[key] if i > at])
            try:
                prepared = projection.prepare(taken)
            except Exception as error:
                if store_failure(error):
                    raise
                return None  # (an event that cannot be applied: isolated by the runner)
            if taken.count < len(taken.events):
                return None
            work.append((projection, at, prepared))
            taken_in_all += taken.count
    if not work and also is None:
        return 0
    try:
        with db.transaction() as cur:
            move_all(cur, [(projection.name, at) for projection, at, _ in work], head)
            for projection, _, prepared in work:
                projection.process(cur, prepared)
            if also is not None:
                also(cur)
    except Exception as error:
        if store_failure(error) and not isinstance(error, Moved):
            raise
        return None  # (moved by another process first, or a row that cannot be written)
    return taken_in_all
