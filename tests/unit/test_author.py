"""Every event the episode, child-record and audit aggregates record has an author field."""

from __future__ import annotations

import inspect

import pytest

from aggregates.audit import Audit
from aggregates.episode import ChildRecord, Episode


@pytest.mark.parametrize("aggregate", [Episode, ChildRecord, Audit])
def test_every_event_class_stores_its_author(aggregate: type) -> None:
    events = [
        event
        for name, event in vars(aggregate).items()
        if inspect.isclass(event) and hasattr(event, "__dataclass_fields__")
        and name not in ("Event", "Created")
    ]  # fmt: skip
    assert events
    assert [e.__name__ for e in events if "author" not in e.__dataclass_fields__] == []
