"""The sweep: find running clocks whose alert rungs have fallen due and record the alerts.

The drift board says where to look; each episode is read back and asked again before anything
is written (an alert has a stable identity and is raised once however often the sweep runs),
and a write that loses a race with another writer is re-checked and tried again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from aggregates.alerts import alert_id, ladder, recipients
from aggregates.calendar import WorkingCalendar
from aggregates.episode import Episode
from aggregates.policy import Policy
from projections.queries import AlertDue, ReadModels


class EpisodeStore(Protocol):
    calendar: WorkingCalendar

    def get_episode(self, reference: str) -> Episode: ...
    def policy_of(self, episode: Episode) -> Policy: ...
    def save(self, *aggregates: Any) -> Any: ...


@dataclass(frozen=True)
class Raised:
    id: str
    episode: str
    clock: str
    occurrence: int
    rung: str
    fell_due_on: date
    recipients: list[str]


def sweep(
    store: EpisodeStore, read: ReadModels, catch_up: Callable[[], Any], today: date
) -> list[Raised]:
    """Raise every alert that has fallen due by `today`; return what was raised now."""
    catch_up()
    by_episode: dict[str, list[AlertDue]] = {}
    for due in read.alerts_due(today):
        by_episode.setdefault(due.episode, []).append(due)
    raised: list[Raised] = []
    for reference, clocks in by_episode.items():
        raised += _raise_for(store, reference, clocks, today)
    if raised:
        catch_up()
    return raised


def _raise_for(
    store: EpisodeStore, reference: str, clocks: list[AlertDue], today: date, attempts: int = 3
) -> list[Raised]:
    for _ in range(attempts):
        episode = store.get_episode(reference)
        escalation = store.policy_of(episode).escalation
        lead = episode.lead["name"] if episode.lead else None
        new = []
        for due in clocks:
            for rung, fell_due_on in ladder(due.due_on, escalation, store.calendar).fell_due(today):
                people = recipients(rung, lead, escalation)
                if episode.raise_alert(
                    clock=due.clock, occurrence=due.occurrence, rung=rung,
                    fell_due_on=fell_due_on, recipients=people, today=today,
                ):  # fmt: skip
                    new.append(Raised(alert_id(reference, due.clock, due.occurrence, rung),
                                      reference, due.clock.value, due.occurrence, rung.value,
                                      fell_due_on, people))  # fmt: skip
        if not new:
            return []
        try:
            store.save(episode)
        except IntegrityError:
            continue  # someone else wrote to the episode meanwhile: read it again and re-check
        return new
    raise RuntimeError(f"episode {reference} kept changing during the sweep; try again")
