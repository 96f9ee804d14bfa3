"""projections.topics, the views' topics as a table (what a query checks freshness by), is what
the event classes and the views themselves give."""

from __future__ import annotations

from aggregates.audit import Audit
from aggregates.episode import ChildRecord, Episode
from ehqa.services import Services
from projections import topics
from projections.protocol import topics_of


def test_the_aggregates_topics_are_their_event_classes() -> None:
    assert topics_of(Episode) == topics.EPISODE
    assert topics_of(ChildRecord) == topics.CHILD_RECORD
    assert topics_of(Audit) == topics.AUDIT


def test_each_views_topics_are_the_tables(tmp_path: object) -> None:
    services = Services(f"{tmp_path}/store.db")
    try:
        made = {projection.name: projection.topics for projection in services.projections}
    finally:
        services.close()
    assert made == topics.VIEW_TOPICS
    assert list(made) == list(topics.VIEW_TOPICS)  # (in the order the views run)
