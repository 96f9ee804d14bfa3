"""Whether every view has taken every event recorded for it, found without loading the runner.

A query asks its views to catch up first; between writes, the usual case, there is nothing to
take. Asked as `projections.runner.status` asks it (is any event of the view's topics recorded
after its position?), this reads the tracking table once and the log once per view, and the
caller loads the runner (and, through it, both stores' drivers) only when a view is behind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eventsourcing.persistence import ApplicationRecorder

from projections.db import ViewDatabase


def all_current(
    recorder: ApplicationRecorder, db: ViewDatabase, views: Mapping[str, Sequence[str]]
) -> bool:
    """True if no view (by name, its topics: projections.topics) has an event to take in the
    recorder's log. A tracking row this does not know (a rebuild's replay under way) answers
    False: the runner carries that on."""
    positions = {
        name: int(at) for name, at in db.query("SELECT projection, position FROM ehqa_tracking")
    }
    if set(positions) - set(views):
        return False
    return not any(
        recorder.select_notifications(
            start=positions.get(name, 0) + 1, limit=1, topics=list(topics)
        )
        for name, topics in views.items()
    )
