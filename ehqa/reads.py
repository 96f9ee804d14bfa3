"""The reads that take both kinds of "as at", shared by the command line and the API.

`When` is what a caller asked for: a business date (`as_at`), a record time (`known_at`), both
or neither. `reading` gives the read models to answer from: the live views, or views replayed as
known at the moment (ehqa.known_at). The question is then asked as at `When.day`: the business
date given, else the day the moment falls on (Europe/London), else today.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ehqa.moment import london_date
from ehqa.services import Services
from projections.queries import ReadModels, episode_json


@dataclass(frozen=True)
class When:
    as_at: date | None
    known_at: datetime | None
    today: date

    @property
    def day(self) -> date:
        if self.as_at is not None:
            return self.as_at
        return self.today if self.known_at is None else london_date(self.known_at)

    def describe(self) -> str:
        parts = [f"on {self.as_at}"] if self.as_at else []
        if self.known_at is not None:
            parts.append(f"as known at {self.known_at.isoformat()}")
        return " ".join(parts)


@contextmanager
def reading(
    services: Services, when: When, reference: str | None = None, timeline: bool = False
) -> Iterator[ReadModels]:
    """The read models to answer from: one episode's (with `reference`) or every episode's
    (with `timeline`, every episode's timeline too, which the boards do not need)."""
    if when.known_at is None:
        yield services.read
        return
    from ehqa.known_at import board_views, episode_views  # (the replay: only as known at a moment)

    if reference is not None:
        with episode_views(services, reference, when.known_at) as read:
            yield read
    else:
        with board_views(services, when.known_at, timeline) as read:
            yield read


def episode(services: Services, reference: str, when: When) -> dict[str, Any] | None:
    """Where the episode stands (as at a business date, as known at a moment); None if it was
    not yet opened then (or not yet recorded by the moment)."""
    if when.known_at is None:
        if when.as_at is None:
            return services.read.episode(reference)
        return services.episode_as_at(reference, when.as_at)
    from ehqa.known_at import episode_at, known_events
    from projections.views import EpisodesProjection

    found = episode_at(known_events(services, reference, when.known_at), when.as_at)
    return None if found is None else episode_json(EpisodesProjection.summary(found))


def timeline(
    services: Services, reference: str, when: When, milestones: bool = False
) -> list[dict[str, Any]]:
    """The episode's events in business-date order: with a business date, only those dated on
    or before it; with a moment, only those recorded by then."""
    with reading(services, when, reference) as read:
        items = read.timeline(reference, milestones=milestones, as_at=when.day)
    if when.as_at is None:
        return items
    day = when.as_at.isoformat()
    return [i for i in items if i["event"] == "ClockDue" or i["on"] <= day]
