"""What every projection is: the protocols the runner drives, a history as a rebuild reads it,
and the helpers the views share (topics, an event described as the timeline shows it)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from projections.db import Cursor

Event = DomainEventProtocol[UUID]
Batch = Iterable[tuple[int, Event]]  # (notification id, event), read lazily: iterate it once
BOOKKEEPING = {"originator_id", "originator_version", "timestamp", "originator_topic"}
NOT_DESCRIBED = frozenset({*BOOKKEEPING, "on"})
SAFEGUARDING = "safeguarding"  # the pseudo-clock of alerts raised by audits' safeguarding concerns
MOST_ROWS = 20_000  # events a projection holds in memory (as rows or events) for one batch


class Projection(Protocol):
    """A projection may also have `reader(mapper)`: a function of a stored event (`Stored`, or
    the log's `Notification`) whose result its batches (and a replay's histories) then hold
    instead of the decoded event (the timeline reads its rows from the stored JSON). What it
    raises is the event's failure, as a failure to decode it is."""

    name: str
    topics: list[str]
    tables: list[str]

    def prepare(self, batch: Batch) -> Any: ...

    def process(self, cur: Cursor, prepared: Any) -> None: ...


@dataclass
class History:
    """One aggregate's events as a rebuild reads them: whole, in version order (an event that
    could not be decoded is left out, and dead-lettered by the runner)."""

    opened: int  # the notification id of its first event
    # (notification id, event): the domain event, or what the projection's `reader` made of it
    events: list[tuple[int, Any]]


class Replayable(Projection, Protocol):
    """A projection whose rows are derived from aggregates, which a rebuild can replay one whole
    history at a time (each aggregate's rows derived once) instead of in log order."""

    def replay(self, histories: Sequence[History]) -> Any:
        """Replay each history whole and derive its rows once; raise if any event cannot be
        applied or any row derived (the runner then takes the histories one at a time)."""
        ...

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        """The history event by event, as catch-up applies the events of a failed batch: for
        each event, the rows as they stand after it, or the exception that kept it out."""
        ...


class Unprepared:
    """For projections whose work all needs the view's current rows: nothing to prepare."""

    def prepare(self, batch: Batch) -> list[tuple[int, Event]]:
        return list(islice(batch, MOST_ROWS))


def topics_of(*classes: type) -> list[str]:
    return [
        f"{cls.__module__}:{cls.__qualname__}"
        for owner in classes
        for cls in vars(owner).values()
        if isinstance(cls, type) and issubclass(cls, owner.Event) and cls is not owner.Event  # type: ignore[attr-defined]
    ]


def describe_event(event: Event) -> dict[str, Any]:
    """An event as the timeline shows it: business date, recorded time, kind and fields."""
    body = {
        "on": event.on.isoformat(),  # type: ignore[attr-defined]
        "recorded_at": event.timestamp.isoformat(),  # type: ignore[attr-defined]
        "event": type(event).__name__,
    }
    for key, value in event.__dict__.items():  # (one pass: a rebuild describes every event)
        if key not in NOT_DESCRIBED:
            body[key] = value.isoformat() if isinstance(value, date) else value
    return body


def iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
