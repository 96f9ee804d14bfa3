"""The sweep: find running clocks whose alert rungs have fallen due and record the alerts.

The drift board says where to look; each episode is read back and asked again before anything
is written (an alert has a stable identity and is raised once however often the sweep runs),
and a write that loses a race with another writer is re-checked and tried again. The views are
caught up after each batch that raised anything, not once at the end: a request's write answers
only once the views hold every event committed before it, so beside a first sweep that raises
tens of thousands of alerts it would otherwise wait for the views to take in all of them. Small
batches keep each of the sweep's turns at the store short (a write may wait for one).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from eventsourcing.persistence import IntegrityError

from aggregates.alerts import alert_id, ladder, recipients
from aggregates.audit import Audit
from aggregates.calendar import WorkingCalendar
from aggregates.episode import Episode
from aggregates.policy import ClockName, Policy
from projections.queries import AlertDue, ReadModels


class EpisodeStore(Protocol):
    calendar: WorkingCalendar

    def policy(self, name: str) -> Policy: ...

    def get_episode(self, reference: str) -> Episode: ...
    def get_audit(self, reference: str) -> Audit: ...
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
    store: EpisodeStore,
    read: ReadModels,
    catch_up: Callable[[], Any],
    today: date,
    exclusive: Callable[[], AbstractContextManager[Any]] = nullcontext,
    stopping: Callable[[], bool] = lambda: False,
) -> list[Raised]:
    """Raise every alert that has fallen due by `today`; return what was raised now. Each batch
    is saved, and the views caught up with it, while `exclusive` is held (one catch-up of the
    views at a time: schedulers.lock.CatchUpLock). Once `stopping()` answers True (the server
    shutting down) no further batch is begun: what is left falls to the next sweep."""
    catch_up()
    by_episode: dict[str, list[AlertDue]] = {}
    for due in read.alerts_due(today):
        by_episode.setdefault(due.episode, []).append(due)
    raised: list[Raised] = []
    audits = {
        ref: due for ref, due in by_episode.items() if due[0].clock is ClockName.AUDIT_ACTIONS
    }
    for reference, actions in audits.items():
        raised += _raise_for_audit(store, reference, actions, today)
        del by_episode[reference]
    if raised:
        catch_up()
    references = list(by_episode)
    for start in range(0, len(references), BATCH):
        if stopping():
            break
        batch = {r: by_episode[r] for r in references[start : start + BATCH]}
        raised += _raise_batch(store, batch, today, catch_up, exclusive)
    return raised


# Episodes saved together in one transaction (and caught up with, in one turn of the catch-up
# lock, which a request's write waits for): a turn of 10 held a write up for tens of
# milliseconds; 1 is not much shorter than 2 (a turn's fixed cost, its commits and the views'
# positions, is most of it).
BATCH = 2
AUTHOR = "system:sweep"  # the author recorded on the alerts the sweep raises


def _raise_batch(
    store: EpisodeStore,
    due: dict[str, list[AlertDue]],
    today: date,
    catch_up: Callable[[], Any],
    exclusive: Callable[[], AbstractContextManager[Any]],
) -> list[Raised]:
    """Raise for many episodes and save them in one unit of work; if any of them was changed
    meanwhile, nothing of the batch was saved and each episode is tried on its own. Then the
    views are caught up (a request's write waiting for them meets at most this batch)."""
    changed, raised = [], []
    for reference, clocks in due.items():
        episode = store.get_episode(reference)
        new = _raise_on(store, episode, clocks, today)
        if new:
            changed.append(episode)
            raised += new
    if not changed:
        return []
    with exclusive():
        try:
            store.save(*changed)
        except IntegrityError:
            raised = [
                r
                for reference, clocks in due.items()
                for r in _raise_for(store, reference, clocks, today)
            ]
        if raised:
            catch_up()
    return raised


def _raise_for_audit(
    store: EpisodeStore, reference: str, actions: list[AlertDue], today: date
) -> list[Raised]:
    """Overdue audit actions climb the same ladder, to the action's owner and up."""
    return _retrying(store, f"audit {reference}", lambda: store.get_audit(reference),
                     lambda audit: _raise_on_audit(store, audit, actions, today))  # fmt: skip


def _raise_on_audit(
    store: EpisodeStore, audit: Audit, actions: list[AlertDue], today: date
) -> list[Raised]:
    escalation = store.policy(audit.policy).escalation
    audit.recorded_by(AUTHOR)
    new = []
    for due in actions:
        number = str(due.occurrence)
        owner = audit.actions[number]["who"]
        for rung, fell_due_on in ladder(due.due_on, escalation, store.calendar).fell_due(today):
            people = recipients(rung, owner, escalation)
            if audit.raise_alert(number=number, rung=rung, fell_due_on=fell_due_on, recipients=people,
                                 today=today):  # fmt: skip
                new.append(Raised(alert_id(audit.reference, due.clock, due.occurrence, rung), audit.reference,
                                  due.clock.value, due.occurrence, rung.value, fell_due_on, people))  # fmt: skip
    return new


def _raise_on(
    store: EpisodeStore, episode: Episode, clocks: list[AlertDue], today: date
) -> list[Raised]:
    escalation = store.policy_of(episode).escalation
    episode.recorded_by(AUTHOR)
    lead = episode.lead["name"] if episode.lead else None
    new = []
    for due in clocks:
        for rung, fell_due_on in ladder(due.due_on, escalation, store.calendar).fell_due(today):
            people = recipients(rung, lead, escalation)
            if episode.raise_alert(
                clock=due.clock, occurrence=due.occurrence, rung=rung,
                fell_due_on=fell_due_on, recipients=people, today=today,
            ):  # fmt: skip
                new.append(Raised(alert_id(episode.reference, due.clock, due.occurrence, rung),
                                  episode.reference, due.clock.value, due.occurrence, rung.value,
                                  fell_due_on, people))  # fmt: skip
    return new


def _retrying(
    store: EpisodeStore, what: str, load: Callable[[], Any], raise_on: Callable[[Any], list[Raised]]
) -> list[Raised]:
    """Load, raise, save; if someone else wrote meanwhile, read it again and re-check."""
    for _ in range(3):
        aggregate = load()
        new = raise_on(aggregate)
        if not new:
            return []
        try:
            store.save(aggregate)
        except IntegrityError:
            continue
        return new
    raise RuntimeError(f"{what} kept changing during the sweep; try again")


def _raise_for(
    store: EpisodeStore, reference: str, clocks: list[AlertDue], today: date
) -> list[Raised]:
    return _retrying(store, f"episode {reference}", lambda: store.get_episode(reference),
                     lambda episode: _raise_on(store, episode, clocks, today))  # fmt: skip
