"""An audit of one episode under one council's scheme: assigned, scored with evidence, moderated
where the scheme asks for judgement, completed with its grade, with actions and the discussion
with the worker recorded. The grading rules are the schemes' (aggregates.schemes)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from aggregates.alerts import Rung, alert_id
from aggregates.authored import Authored
from aggregates.errors import DateError, DomainError, InvalidCommandError, LifecycleError
from aggregates.ids import audit_id as audit_id  # (as ever imported here)
from aggregates.policy import ClockName
from aggregates.programme import AuditKind
from aggregates.schemes import (
    DARLINGTON_DIMENSIONS,
    WHAT_MAKES_GOOD_SECTIONS,
    Grade,
    SchemeName,
    as_number,
    check_bnes,
    check_flag,
    darlington,
    darlington_grade,
    st_helens,
    st_helens_value,
    unknown,
    what_makes_good,
)


class IndependenceError(DomainError):
    """The auditor has been involved in the episode, or manages its lead professional."""


class Audit(Authored):
    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return audit_id(reference)

    @classmethod
    def assign(
        cls,
        *,
        reference: str,
        episode: str,
        scheme: SchemeName,
        auditor: str,
        reason: str,
        on: date,
        today: date,
        involved: set[str],
        lead_managers: set[str],
        step_down: bool = False,
        policy: str = "st-helens",
        kind: AuditKind = AuditKind.DETAILED,
        auditor_subject: str | None = None,
        author: str | None = None,
    ) -> Audit:
        """Refuse an auditor who recorded anything on the episode or manages its lead professional
        (`involved` and `lead_managers` hold names and subjects: a match on either refuses)."""
        if not auditor.strip():
            raise InvalidCommandError("an audit needs an auditor")
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        if auditor in involved or (auditor_subject and auditor_subject in involved):
            raise IndependenceError(
                f"{auditor} has recorded on episode {episode}: an auditor must have had no involvement in it"
            )
        if auditor in lead_managers:
            raise IndependenceError(
                f"{auditor} manages the lead professional of episode {episode}: "
                "line managers do not audit their own team's cases"
            )
        return cls(reference=reference, episode=episode, scheme=scheme.value, auditor=auditor,
                   reason=reason.strip() or "not given", step_down=step_down, policy=policy,
                   kind=kind.value, on=on, auditor_subject=auditor_subject, author=author)  # fmt: skip

    @event("Assigned")
    def __init__(self, *, reference: str, episode: str, scheme: str, auditor: str, reason: str,
                 step_down: bool, policy: str, kind: str, on: date,
                 auditor_subject: str | None = None, author: str | None = None) -> None:  # fmt: skip
        self.reference, self.episode, self.auditor, self.reason = (
            reference,
            episode,
            auditor,
            reason,
        )
        # The auditor's stable identity: only they (or a co-ordinator) work on the audit.
        self.auditor_subject = auditor_subject
        self.scheme = SchemeName(scheme)
        self.step_down = step_down
        self.policy = policy
        self.kind = AuditKind(kind)
        self.alerts: dict[str, dict[str, Any]] = {}
        self.assigned_on = on
        self.scores: dict[str, dict[str, Any]] = {}
        self.flags: dict[str, bool] = {}
        self.grade: Grade | None = None
        self.completed_on: date | None = None
        self.actions: dict[str, dict[str, Any]] = {}
        self.discussions: list[dict[str, Any]] = []
        self.concerns: list[dict[str, Any]] = []

    # ---- guards -----------------------------------------------------------------------------

    def _open(self, step: str, on: date, today: date) -> None:
        if self.completed_on is not None and step not in (
            "issue an action",
            "complete an action",
            "record a discussion",
        ):
            raise LifecycleError(f"cannot {step}: the audit was completed on {self.completed_on}")
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        if on < self.assigned_on:
            raise DateError(f"the date {on} is before the audit was assigned ({self.assigned_on})")

    # ---- scoring ----------------------------------------------------------------------------

    def score(self, item: str, value: Any, evidence: str, on: date, today: date, *,
              proposed: Any = None, override_reason: str = "", action: str = "") -> None:  # fmt: skip
        """Score an item (St Helens A1-R10 0-3; a section grade; a Darlington dimension 1-4;
        a B&NES standard red/amber/green), with its evidence. A score that differs from the
        one proposed from the record needs a reason."""
        self._open("score an item", on, today)
        if not evidence.strip():
            raise InvalidCommandError(f"{item} needs the evidence for its score")
        value = self._checked(item, value, evidence, action)
        if proposed is not None and value != proposed and not override_reason.strip():
            raise InvalidCommandError(
                f"{item} was proposed as {proposed} from the record; give a reason to score it {value}"
            )
        self._scored(item=item, value=value, evidence=evidence.strip(), proposed=proposed,
                     override_reason=override_reason.strip(), action=action.strip(), on=on)  # fmt: skip

    def _checked(self, item: str, value: Any, evidence: str, action: str) -> Any:
        if self.scheme is SchemeName.ST_HELENS:
            if item == "closure":
                return Grade.parse(str(value)).label
            number = st_helens_value(item, value)
            if self.step_down and item.startswith("A"):
                raise InvalidCommandError(
                    "the assessment section is not audited for a step-down from social care"
                )
            return number
        if self.scheme is SchemeName.WHAT_MAKES_GOOD:
            unknown([item], WHAT_MAKES_GOOD_SECTIONS, "section")
            return Grade.parse(str(value)).label
        if self.scheme is SchemeName.DARLINGTON:
            unknown([item], DARLINGTON_DIMENSIONS, "dimension")
            number = as_number(item, value)
            darlington_grade(number, item)
            return number
        return check_bnes(item, str(value), evidence, action).value

    @event("ItemScored")
    def _scored(self, item: str, value: Any, evidence: str, proposed: Any, override_reason: str,
                action: str, on: date, author: str | None = None) -> None:  # fmt: skip
        self.scores[item] = {"value": value, "evidence": evidence, "proposed": proposed,
                             "override_reason": override_reason, "action": action, "on": on}  # fmt: skip

    def flag(self, name: str, value: bool, on: date, today: date) -> None:
        """St Helens' overrides: `childs_voice_absent`, `safeguarding_not_considered`."""
        check_flag(self.scheme, name, value)
        self._open("set a flag", on, today)
        self._flagged(name=name, value=value, on=on)

    @event("Flagged")
    def _flagged(self, name: str, value: bool, on: date, author: str | None = None) -> None:
        self.flags[name] = value

    def raise_safeguarding_concern(self, note: str, on: date, today: date) -> None:
        """A safeguarding concern found while auditing: raised at once, whatever the grade."""
        if not note.strip():
            raise InvalidCommandError("a safeguarding concern needs a note of what was found")
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        ident = f"{self.reference}/safeguarding/{len(self.concerns) + 1}"
        self._concern(
            alert_id=ident, episode=self.episode, auditor=self.auditor, note=note.strip(), on=on
        )

    @event("SafeguardingConcernRaised")
    def _concern(
        self,
        alert_id: str,
        episode: str,
        auditor: str,
        note: str,
        on: date,
        author: str | None = None,
    ) -> None:
        self.concerns.append({"alert_id": alert_id, "note": note, "on": on})

    # ---- grading ----------------------------------------------------------------------------

    def proposed_grade(self) -> tuple[Grade | None, tuple[Grade, ...], str]:
        """(proposed grade, the grades the auditor may choose, why)."""
        values = {item: s["value"] for item, s in self.scores.items()}
        if self.scheme is SchemeName.ST_HELENS:
            scores = {k: v for k, v in values.items() if k != "closure"}
            result = st_helens(
                scores, closure=Grade.parse(values["closure"]) if "closure" in values else None,
                assessment_audited=not self.step_down, review_audited=any(k.startswith("R") for k in scores),
                childs_voice_absent=self.flags.get("childs_voice_absent", False),
                safeguarding_not_considered=self.flags.get("safeguarding_not_considered", False),
            )  # fmt: skip
            return (
                result.overall,
                (result.overall,),
                "; ".join(result.reasons) or "majority of the sections",
            )
        if self.scheme is SchemeName.WHAT_MAKES_GOOD:
            sectional = what_makes_good({k: Grade.parse(v) for k, v in values.items()})
            return sectional.proposed, sectional.options, sectional.reason
        if self.scheme is SchemeName.DARLINGTON:
            grade = darlington(values)
            return (
                grade,
                tuple(Grade),
                "the middle of the eight dimensions (the auditor may differ, with a reason)",
            )
        if not values:
            raise InvalidCommandError("no B&NES standard is rated yet")
        return (
            None,
            tuple(Grade),
            "B&NES rates each standard red, amber or green; the auditor gives the overall grade",
        )

    def complete(
        self, on: date, today: date, grade: Grade | None = None, reason: str = ""
    ) -> Grade:
        """Complete with the proposed grade, or with one the scheme lets the auditor choose."""
        self._open("complete the audit", on, today)
        proposed, options, why = self.proposed_grade()
        chosen = grade or proposed
        if chosen is None:
            raise InvalidCommandError(f"give the overall grade: {why}")
        if chosen not in options:
            allowed = ", ".join(g.label for g in options)
            raise InvalidCommandError(f"the grade must be {allowed} ({why})")
        if proposed is not None and chosen != proposed and not reason.strip():
            raise InvalidCommandError(
                f"{proposed.label} was proposed ({why}); give a reason for {chosen.label}"
            )
        self._completed(
            grade=chosen.value,
            proposed=proposed and proposed.value,
            reason=reason.strip() or why,
            on=on,
        )
        return chosen

    @event("Completed")
    def _completed(
        self, grade: int, proposed: int | None, reason: str, on: date, author: str | None = None
    ) -> None:
        self.grade = Grade(grade)
        self.completed_on = on

    # ---- actions and the discussion ------------------------------------------------------------

    def issue_action(
        self, number: str, who: str, what: str, due_on: date, on: date, today: date
    ) -> None:
        """A SMART action: who does what by when."""
        if self.completed_on is None:
            raise LifecycleError("cannot issue an action: complete the audit first")
        self._open("issue an action", on, today)
        if not who.strip() or not what.strip():
            raise InvalidCommandError("an action says who does what")
        if not number.isdigit():
            raise InvalidCommandError(f"actions are numbered 1, 2, 3 ... ('{number}' is not)")
        if number in self.actions:
            raise InvalidCommandError(f"action {number} is already issued")
        if due_on < on:
            raise DateError(f"action {number} would be due ({due_on}) before it is issued ({on})")
        self._action_issued(number=number, who=who.strip(), what=what.strip(), due_on=due_on, on=on)

    @event("ActionIssued")
    def _action_issued(
        self, number: str, who: str, what: str, due_on: date, on: date, author: str | None = None
    ) -> None:
        self.actions[number] = {
            "who": who,
            "what": what,
            "due_on": due_on,
            "issued_on": on,
            "completed_on": None,
        }

    def complete_action(self, number: str, on: date, today: date) -> None:
        action = self.actions.get(number)
        if action is None:
            raise InvalidCommandError(f"no action {number} on audit {self.reference}")
        if action["completed_on"] is not None:
            raise InvalidCommandError(f"action {number} was completed on {action['completed_on']}")
        self._open("complete an action", on, today)
        if on < action["issued_on"]:
            raise DateError(
                f"action {number} cannot be completed before it was issued ({action['issued_on']})"
            )
        self._action_completed(number=number, on=on)

    @event("ActionCompleted")
    def _action_completed(self, number: str, on: date, author: str | None = None) -> None:
        self.actions[number]["completed_on"] = on

    def record_discussion(
        self, worker: str, manager: str, notes: str, on: date, today: date
    ) -> None:
        """Darlington: the case is discussed with the worker and their manager after the audit."""
        if not worker.strip() or not manager.strip():
            raise InvalidCommandError("a discussion names the worker and their manager")
        self._open("record a discussion", on, today)
        self._discussed(worker=worker.strip(), manager=manager.strip(), notes=notes.strip(), on=on)

    @event("DiscussionRecorded")
    def _discussed(
        self, worker: str, manager: str, notes: str, on: date, author: str | None = None
    ) -> None:
        self.discussions.append({"worker": worker, "manager": manager, "notes": notes, "on": on})

    # ---- alerts on overdue actions (the audit_actions clock) -----------------------------------

    def raise_alert(
        self, *, number: str, rung: Rung, fell_due_on: date, recipients: list[str], today: date
    ) -> bool:
        """Raise an action's alert once, while the action is still open. True if raised."""
        ident = alert_id(self.reference, ClockName.AUDIT_ACTIONS, int(number), rung)
        action = self.actions.get(number)
        if ident in self.alerts or action is None or action["completed_on"] is not None:
            return False
        self._alert_raised(alert_id=ident, number=number, rung=rung.value, fell_due_on=fell_due_on,
                           recipients=list(recipients), on=today)  # fmt: skip
        return True

    @event("AlertRaised")
    def _alert_raised(self, alert_id: str, number: str, rung: str, fell_due_on: date,
                      recipients: list[str], on: date, author: str | None = None) -> None:  # fmt: skip
        self.alerts[alert_id] = {"number": number, "rung": rung, "fell_due_on": fell_due_on,
                                 "raised_on": on, "recipients": list(recipients)}  # fmt: skip
