"""Who recorded a fact: every event of an authored aggregate stores its `author`.

The author is a stable subject id given by the application ("token:3f2a...", "os:alice",
"system:sweep"), never a display name. Events stored before authors were kept load with None.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate


class Authored(Aggregate):
    """An aggregate whose every event names its author: the one the application gave with
    `recorded_by` before running commands (None if it gave none)."""

    # (No annotated class attribute here: eventsourcing would take it for a field of the
    # created event. `_author` is not event state: who is recording now.)

    def recorded_by(self, author: str | None) -> None:
        self._author: str | None = author

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        if "author" not in event_class.__dataclass_fields__:
            raise TypeError(f"{event_class.__qualname__} does not store its author")
        if kwargs.get("author") is None:
            kwargs["author"] = getattr(self, "_author", None)
        super().trigger_event(event_class, **kwargs)
