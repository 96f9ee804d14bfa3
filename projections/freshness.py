"""Whether every view has taken every event recorded for it, found without loading the runner.

A query asks its views to catch up first; between writes, the usual case, there is nothing to
take. Asked as `projections.runner.status` asks it (is any event of the view's topics recorded
after its position?), this reads the tracking table once and the log once per view, and the
caller loads the runner (and, through it, both stores' drivers) only when a view is behind.
The log is asked through `newer`: the recorder's `select_notifications`, or, where the views
share the log's database, a query on the views' own connection (`histories.EventLog.newer`),
which needs none of the event store's code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from projections.db import ViewDatabase

if TYPE_CHECKING:
    from eventsourcing.persistence import ApplicationRecorder

# Whether the log holds an event of these topics after this notification id.
Newer = Callable[[Sequence[str], int], bool]


def all_current(db: ViewDatabase, views: Mapping[str, Sequence[str]], newer: Newer) -> bool:
    """True if no view (by name, its topics: projections.topics) has an event to take in the
    log. A tracking row this does not know (a rebuild's replay under way) answers False: the
    runner carries that on."""
    positions = {
        name: int(at) for name, at in db.query("SELECT projection, position FROM ehqa_tracking")
    }
    if set(positions) - set(views):
        return False
    return not any(newer(topics, positions.get(name, 0)) for name, topics in views.items())


def in_recorder(recorder: ApplicationRecorder) -> Newer:
    def newer(topics: Sequence[str], after: int) -> bool:
        return bool(recorder.select_notifications(start=after + 1, limit=1, topics=list(topics)))

    return newer
