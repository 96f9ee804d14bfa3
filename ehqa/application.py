"""The application service: get -> command -> save, one unit of work per call.

How its events are stored is in `ehqa.persistence`; what it refuses beyond the domain's rules is
in `ehqa.errors`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import IntegrityError, Tracking

from aggregates.alerts import episode_of_alert
from aggregates.audit import Audit, audit_id
from aggregates.calendar import WorkingCalendar, england_and_wales
from aggregates.clocks import ClockEntry, schedule
from aggregates.episode import ChildRecord, Episode, Origin, child_record_id, episode_id
from aggregates.errors import InvalidCommandError
from aggregates.policy import ClockName, Policy
from aggregates.programme import AuditKind
from aggregates.proposals import Proposal, propose_a1, propose_closure, propose_r6, propose_r8
from aggregates.schemes import SchemeName
from ehqa.clock import Clock, london_today
from ehqa.errors import (
    AuditExistsError,
    AuditNotFoundError,
    ConflictError,
    EpisodeExistsError,
    EpisodeNotFoundError,
)
from ehqa.persistence import TrackedApplication
from ehqa.policies import DEFAULT_POLICY, PolicyBook
from projections.views import describe_event

__all__ = [  # the errors too, where the rest of the service has always imported them from
    "AuditExistsError",
    "AuditNotFoundError",
    "ConflictError",
    "EhqaApplication",
    "EpisodeExistsError",
    "EpisodeNotFoundError",
    "Rehearsal",
    "audit_kind",
]


def audit_kind(kind: str) -> AuditKind:
    try:
        return AuditKind(kind)
    except ValueError:
        raise InvalidCommandError(
            f"unknown kind of audit '{kind}' (detailed, brief, one_to_one)"
        ) from None


class Rehearsal:
    """A dry run: commands run on aggregates held here (read from the store once, or created by
    an earlier command of the run) and nothing is saved."""

    def __init__(self) -> None:
        self.aggregates: dict[UUID, Any] = {}
        self.events: list[Any] = []  # what the rehearsed commands recorded, not yet taken

    def take_events(self) -> list[Any]:
        """The events recorded since the last call (saved as they are, they record the same)."""
        taken, self.events = self.events, []
        return taken


class EhqaApplication(TrackedApplication):
    """Records what happens in Early Help episodes and answers where each one stands.

    Its recorder is a process recorder: a save may carry a `Tracking` record, inserted in the
    same transaction as the events (how `ehqa apply` knows which lines of a file are applied).
    """

    name = "ehqa"
    child_keys: Any = None  # each child's data key (ehqa.keys.ChildKeys), set by Services

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        policies: PolicyBook | None = None,
        default_policy: str = DEFAULT_POLICY,
        clock: Clock = london_today,
        calendar: WorkingCalendar | None = None,
        sharing: TrackedApplication | None = None,
    ) -> None:
        super().__init__(env, sharing=sharing)
        self.policies = policies or PolicyBook()
        self.default_policy = default_policy
        self.policies.get(default_policy)
        self.clock = clock
        self.calendar = calendar or england_and_wales()

    def _load(self, aggregate_id: UUID, rehearsal: Rehearsal | None) -> Any:
        """An aggregate from the rehearsal if it holds it, else from the store."""
        if rehearsal is not None and aggregate_id in rehearsal.aggregates:
            return rehearsal.aggregates[aggregate_id]
        found: Any = self.repository.get(aggregate_id)
        if rehearsal is not None:
            rehearsal.aggregates[aggregate_id] = found
        return found

    def _commit(
        self, *aggregates: Any, rehearsal: Rehearsal | None, tracking: Tracking | None
    ) -> None:
        """Save the aggregates' new events, or, rehearsing, keep the aggregates and save nothing."""
        if rehearsal is None:
            self.save(*aggregates, tracking=tracking)
            return
        for aggregate in aggregates:
            rehearsal.events.extend(aggregate.collect_events())
            rehearsal.aggregates[aggregate.id] = aggregate

    # ---- commands --------------------------------------------------------------------------

    def open_episode(
        self,
        reference: str,
        *,
        child: str,
        lead_name: str,
        lead_agency: str,
        on: date,
        origin: str = Origin.REFERRAL.value,
        pre_birth: bool = False,
        recent_social_care_assessment: bool = False,
        policy: str | None = None,
        lead_subject: str | None = None,
        by: str | None = None,
        tracking: Tracking | None = None,
        rehearsal: Rehearsal | None = None,
    ) -> Episode:
        """Open an episode; `by` is the author of its facts (a stable subject id)."""
        policy_name = policy or self.default_policy
        self.policies.get(policy_name)
        if self._exists(episode_id(reference), rehearsal):
            raise EpisodeExistsError(reference)
        episode = Episode.open(
            reference=reference,
            child=child,
            lead_name=lead_name,
            lead_agency=lead_agency,
            lead_subject=lead_subject,
            on=on,
            today=self.clock(),
            policy=policy_name,
            origin=Origin(origin),
            pre_birth=pre_birth,
            recent_social_care_assessment=recent_social_care_assessment,
            author=by,
        )
        record = self._child_record(child, rehearsal, by)
        record.episode_opened(reference)
        try:
            self._commit(record, episode, rehearsal=rehearsal, tracking=tracking)
        except IntegrityError:
            self._explain_lost_open(reference, child)
        return episode

    def _child_record(
        self, child: str, rehearsal: Rehearsal | None = None, by: str | None = None
    ) -> ChildRecord:
        try:
            record: ChildRecord = self._load(child_record_id(child), rehearsal)
        except AggregateNotFoundError:
            record = ChildRecord(child, author=by)
        record.recorded_by(by)
        return record

    def _explain_lost_open(self, reference: str, child: str) -> None:
        """Another writer got there first: say what they did."""
        if self._exists(episode_id(reference)):
            raise EpisodeExistsError(reference)
        self._child_record(child).episode_opened(reference)  # raises if now open elsewhere
        raise ConflictError(reference)

    def _exists(self, aggregate_id: UUID, rehearsal: Rehearsal | None = None) -> bool:
        if rehearsal is not None and aggregate_id in rehearsal.aggregates:
            return True
        return any(True for _ in self.recorder.select_events(aggregate_id, limit=1))

    def exists(self, reference: str) -> bool:
        return self._exists(episode_id(reference))

    def change(
        self,
        reference: str,
        command: Callable[[Episode, date], None],
        *,
        by: str | None = None,
        tracking: Tracking | None = None,
        rehearsal: Rehearsal | None = None,
    ) -> Episode:
        """Get the episode, run one command on it with today's date, save (with the child's
        record when the command closed the episode). Every event it records names `by` as its
        author. With `tracking`, the tracking record is saved in the same transaction; with
        `rehearsal`, nothing is saved."""
        episode = self.get_episode(reference, rehearsal)
        episode.recorded_by(by)
        was_open = episode.is_open
        command(episode, self.clock())
        episode.clear_settled_alerts()
        pending: list[Any] = [episode]
        if was_open and not episode.is_open:
            record = self._child_record(episode.child, rehearsal, by)
            record.episode_closed(reference)
            pending.append(record)
        try:
            self._commit(*pending, rehearsal=rehearsal, tracking=tracking)
        except IntegrityError:
            raise ConflictError(reference) from None
        return episode

    def acknowledge_alert(
        self, ident: str, acknowledged_by: str, *, by: str | None = None
    ) -> Episode:
        """`acknowledged_by` is who the alert names as acknowledging it (as shown to people);
        `by` is the author recorded on the event (a stable subject id)."""
        reference = episode_of_alert(ident)
        return self.change(
            reference,
            lambda episode, today: episode.acknowledge_alert(ident, acknowledged_by, today),
            by=by,
        )

    # ---- audits ----------------------------------------------------------------------------

    def assign_audit(
        self, reference: str, *, episode: str, scheme: str, auditor: str, reason: str, on: date,
        recorded_by: set[str], lead_managers: set[str], kind: str = "detailed",
        auditor_subject: str | None = None, by: str | None = None,
    ) -> Audit:  # fmt: skip
        """Assign an audit; the auditor must not have led, recorded on, or managed the episode."""
        if any(True for _ in self.recorder.select_events(audit_id(reference), limit=1)):
            raise AuditExistsError(reference)
        if self.exists(reference):
            raise InvalidCommandError(
                f"{reference} is an episode's reference: give the audit its own"
            )
        found = self.get_episode(episode)
        leads = set(found.lead_history) | self._people_of(found)
        try:
            scheme_name = SchemeName(scheme)
        except ValueError:
            known = ", ".join(s.value for s in SchemeName)
            raise InvalidCommandError(f"unknown scheme '{scheme}' ({known})") from None
        audit = Audit.assign(
            reference=reference, episode=episode, scheme=scheme_name, auditor=auditor, reason=reason,
            on=on, today=self.clock(), involved=leads | recorded_by, lead_managers=lead_managers,
            step_down=found.origin is Origin.STEP_DOWN, policy=found.policy, kind=audit_kind(kind),
            auditor_subject=auditor_subject,
            author=by,
        )  # fmt: skip
        self.save(audit)
        return audit

    def _people_of(self, episode: Episode) -> set[str]:
        """The subjects of everyone who recorded a fact on the episode or led it (from its
        events: the record itself, not a log beside it); the system's own authors left out."""
        people: set[str] = set()
        for stored in self.recorder.select_events(episode.id):
            event = self.mapper.to_domain_event(stored)
            author = getattr(event, "author", None)
            if author and not author.startswith("system:"):
                people.add(author)
            lead = getattr(event, "lead", None)
            if isinstance(lead, dict) and lead.get("subject"):
                people.add(lead["subject"])
        return people

    def get_audit(self, reference: str) -> Audit:
        try:
            audit: Audit = self.repository.get(audit_id(reference))
        except AggregateNotFoundError:
            raise AuditNotFoundError(reference) from None
        return audit

    def change_audit(
        self, reference: str, command: Callable[[Audit, date], Any], *, by: str | None = None
    ) -> Audit:
        audit = self.get_audit(reference)
        audit.recorded_by(by)
        command(audit, self.clock())
        try:
            self.save(audit)
        except IntegrityError:
            raise ConflictError(reference) from None
        return audit

    def proposals(self, episode: str, as_at: date | None = None) -> dict[str, Proposal]:
        """What the record proves for the St Helens timeliness items and the closure section."""
        found = self.get_episode(episode)
        when = as_at or self.clock()
        policy = self.policy_of(found)
        closed = found.closed_reason.value if found.closed_reason else None
        return {
            "A1": propose_a1(found.facts, policy, self.calendar, when),
            "R6": propose_r6(found.facts, policy, self.calendar, when),
            "R8": propose_r8(found.facts),
            "closure": propose_closure(found.facts, closed, found.closure_summary),
        }

    def proposed_value(self, audit: Audit, item: str) -> Any:
        """What the record proposes for an item of the audit (None where it proposes nothing)."""
        if audit.scheme is not SchemeName.ST_HELENS:
            return None
        proposal = self.proposals(audit.episode).get(item)
        if proposal is None:
            return None
        return (
            proposal.score
            if proposal.score is not None
            else (proposal.grade and proposal.grade.label)
        )

    def action_due(self, audit: Audit, issued: date) -> date:
        """An audit action's default due date: the audit_actions clock of the audit's policy."""
        return self.policy(audit.policy).due_date(
            ClockName.AUDIT_ACTIONS, issued, False, self.calendar
        )

    # ---- queries ---------------------------------------------------------------------------

    def get_episode(self, reference: str, rehearsal: Rehearsal | None = None) -> Episode:
        try:
            episode: Episode = self._load(episode_id(reference), rehearsal)
        except AggregateNotFoundError:
            raise EpisodeNotFoundError(reference) from None
        return episode

    def episode_as_at(self, reference: str, day: date) -> Episode | None:
        """Where the episode stood as at a business date (state, lead, consent ...), from its
        events dated on or before it; None if it was opened only later."""
        events = list(self.repository.event_store.get(episode_id(reference)))
        if not events:
            raise EpisodeNotFoundError(reference)
        return _as_at(events, day)

    def policy_of(self, episode: Episode) -> Policy:
        return self.policies.get(episode.policy)

    def policy(self, name: str) -> Policy:
        return self.policies.get(name)

    def clocks(self, episode: Episode, as_at: date | None = None) -> list[ClockEntry]:
        """One episode's clocks as at a date, from the episode itself."""
        return schedule(
            episode.facts, self.policy_of(episode), self.calendar, as_at or self.clock()
        )

    def timeline(self, reference: str) -> list[dict[str, Any]]:
        """The episode's events by business date (same-day events in the order recorded), read
        from the event store itself (the timeline view answers the same from its table)."""
        events = list(self.repository.event_store.get(episode_id(reference)))
        if not events:
            raise EpisodeNotFoundError(reference)
        return [describe_event(event) for event in sorted(events, key=_business_order)]


def _as_at(events: list[Any], day: date) -> Episode | None:
    """The episode as its events dated on or before `day` leave it, replayed in business-date
    order (same-day events in the order recorded); None if it was not yet opened."""
    episode: Episode | None = None
    kept = [e for e in sorted(events, key=_business_order) if e.on <= day]
    for version, event in enumerate(kept, start=1):
        # renumbered: a later-recorded event may carry an earlier business date
        episode = replace(event, originator_version=version).mutate(episode)
    return episode


def _business_order(event: DomainEventProtocol[UUID]) -> tuple[date, int]:
    return (event.on, event.originator_version)  # type: ignore[attr-defined]
