"""The EHAT episode: an event-sourced aggregate.

Each public command checks the lifecycle and the dates, then triggers one event whose mutator
only assigns. Replay never re-decides. "today" is always passed in: the domain reads no clock.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from aggregates.alerts import Rung, alert_id
from aggregates.authored import Authored
from aggregates.calendar import FIRST_DAY, add_months
from aggregates.clocks import AFTER_CLOSURE, Span, spans
from aggregates.errors import (
    ChildAlreadyOpenError,
    DateError,
    EpisodeClosedError,
    InvalidCommandError,
)
from aggregates.facts import Fact
from aggregates.feedback import POINT_WORDS, STATEMENTS, FeedbackPoint, Rating, Respondent
from aggregates.ids import NAMESPACE as NAMESPACE  # (the identifiers, as ever imported here)
from aggregates.ids import child_record_id as child_record_id
from aggregates.ids import episode_id as episode_id
from aggregates.lifecycle import State, next_state
from aggregates.outcomes import Outcome
from aggregates.panel import PanelAsk, PanelOutcome
from aggregates.policy import ClockName


class Origin(StrEnum):
    REFERRAL = "referral"
    STEP_DOWN = "step_down"


class ClosureReason(StrEnum):
    OUTCOMES_ACHIEVED = "outcomes_achieved"
    STEPPED_UP = "stepped_up"
    TRANSFERRED_OUT = "transferred_out"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_WITHHELD = "consent_withheld"
    DISENGAGED = "disengaged"
    NO_FURTHER_ACTION = "no_further_action"


def _lead(name: str, agency: str, subject: str | None = None) -> dict[str, str]:
    """The lead professional: a display name, an agency and, where known, the stable subject
    (the person's identity at sign-in) that alerts are addressed to."""
    name, agency = name.strip(), agency.strip()
    if not name or not agency:
        raise InvalidCommandError("a lead professional needs a name and an agency")
    lead = {"name": name, "agency": agency}
    if subject:
        lead["subject"] = subject
    return lead


class Episode(Authored):
    """One period of Early Help support for a child (or an unborn baby) and their family."""

    @staticmethod
    def create_id(reference: str, **_: Any) -> UUID:
        return episode_id(reference)

    # ---- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        reference: str,
        child: str,
        lead_name: str,
        lead_agency: str,
        on: date,
        today: date,
        policy: str,
        lead_subject: str | None = None,
        origin: Origin = Origin.REFERRAL,
        pre_birth: bool = False,
        recent_social_care_assessment: bool = False,
        author: str | None = None,
    ) -> Episode:
        if not reference.strip():
            raise InvalidCommandError("an episode needs a reference")
        if not child.strip():
            raise InvalidCommandError("an episode needs the child's identifier")
        if on > today:
            raise DateError(f"the referral date {on} is in the future (today is {today})")
        if on < FIRST_DAY:
            raise DateError(
                f"the referral date {on} is before {FIRST_DAY}, the first date ehqa knows"
            )
        if recent_social_care_assessment and origin is not Origin.STEP_DOWN:
            raise InvalidCommandError(
                "recent_social_care_assessment only applies to a step-down from social care"
            )
        return cls(
            reference=reference,
            child=child,
            lead=_lead(lead_name, lead_agency, lead_subject),
            origin=origin.value,
            pre_birth=pre_birth,
            recent_social_care_assessment=recent_social_care_assessment,
            policy=policy,
            on=on,
            author=author,
        )

    @event("Opened")
    def __init__(
        self,
        *,
        reference: str,
        child: str,
        lead: dict[str, str],
        origin: str,
        pre_birth: bool,
        recent_social_care_assessment: bool,
        policy: str,
        on: date,
        author: str | None = None,
    ) -> None:
        self.reference = reference
        self.child = child
        self.lead: dict[str, str] | None = dict(lead)
        self.lead_history: list[str] = [lead["name"]]
        self.origin = Origin(origin)
        self.pre_birth = pre_birth
        self.policy = policy
        self.opened_on = on
        # A step-down with a recent social-care assessment needs no new EH assessment.
        self.state = State.ASSESSED if recent_social_care_assessment else State.REFERRED
        self.skips_assessment = recent_social_care_assessment
        self.state_before_mash: State | None = None
        self.consent_agencies: list[str] = []
        self.consented_on: date | None = None
        self.closed_reason: ClosureReason | None = None
        self.closed_on: date | None = None
        self.closure_summary: str | None = None
        self.mash_level: int | None = None
        self.milestones: dict[str, date] = {"opened": on}
        self.facts: list[Fact] = []
        self.alerts: dict[str, dict[str, Any]] = {}
        self.feedback: list[dict[str, Any]] = []
        self.panel_requests: list[dict[str, Any]] = []
        self.needs: list[str] = []
        self.whole_family_assessment = False
        self.outcomes: dict[str, bool] | None = None  # need -> met, once recorded
        self.outcomes_on: date | None = None
        self.sustained: dict[str, bool] | None = None  # met outcome -> sustained, once checked
        self.sustained_on: date | None = None
        self._remember(
            "Opened",
            on,
            {
                "origin": origin,
                "pre_birth": pre_birth,
                "skips_assessment": recent_social_care_assessment,
            },
        )

    # ---- guards ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state is not State.CLOSED

    @property
    def latest_on(self) -> date:
        return max(fact.on for fact in self.facts)

    def _move(self, trigger: str, wanted: State | None = None) -> State:
        dest = next_state(trigger, self.state, wanted)
        return self.state if dest is None else dest

    def _check_date(self, on: date, today: date, *after: tuple[str, date | None]) -> None:
        if on > today:
            raise DateError(f"the date {on} is in the future (today is {today})")
        for what, earliest in (("the episode was opened", self.opened_on), *after):
            if earliest is not None and on < earliest:
                raise DateError(f"the date {on} is before {what} ({earliest})")

    def _need_consent(self, step: str) -> date:
        if self.consented_on is None:
            raise InvalidCommandError(f"cannot {step}: the family's consent is not recorded yet")
        return self.consented_on

    def _remember(self, kind: str, on: date, details: dict[str, Any] | None = None) -> None:
        self.facts.append(Fact(kind, on, details or {}))

    def _enter(self, state: State, on: date) -> None:
        if state is not self.state:
            self.milestones[state.value] = on
        self.state = state

    # ---- consent ---------------------------------------------------------------------------

    def record_consent(self, agencies: list[str], on: date, today: date) -> None:
        agencies = [agency.strip() for agency in agencies if agency.strip()]
        if not agencies:
            raise InvalidCommandError("consent must name at least one agency")
        self._move("record_consent")
        self._check_date(on, today, ("consent was first recorded", self.consented_on))
        self._consent_recorded(agencies=sorted(set(agencies)), on=on)

    @event("ConsentRecorded")
    def _consent_recorded(self, agencies: list[str], on: date, author: str | None = None) -> None:
        first = self.consented_on is None
        self.consent_agencies = list(agencies)
        if first:
            self.consented_on = on
            self._enter(State.ASSESSED if self.skips_assessment else State.ASSESSING, on)
        self._remember("ConsentRecorded", on, {"first": first, "agencies": list(agencies)})

    def withhold_consent(self, on: date, today: date, safeguarding: bool = False) -> None:
        if self.consented_on is not None:
            raise InvalidCommandError(
                "cannot record consent withheld: consent was recorded on "
                f"{self.consented_on}; record consent withdrawn instead"
            )
        trigger = (
            "withhold_consent_with_safeguarding_concern" if safeguarding else "withhold_consent"
        )
        self._move(trigger)
        self._check_date(on, today)
        self._consent_withheld(safeguarding=safeguarding, on=on)

    @event("ConsentWithheld")
    def _consent_withheld(self, safeguarding: bool, on: date, author: str | None = None) -> None:
        if safeguarding:
            self.state_before_mash = self.state
            self.mash_level = None
            self._enter(State.AWAITING_MASH, on)
        else:
            self._closed(ClosureReason.CONSENT_WITHHELD, None, on)
        self._remember(
            "ConsentWithheld", on, {"safeguarding": safeguarding, "closes": not safeguarding}
        )

    def withdraw_consent(self, on: date, today: date) -> None:
        self._move("withdraw_consent")
        self._check_date(on, today, ("the latest step recorded", self.latest_on))
        self._consent_withdrawn(on=on)

    @event("ConsentWithdrawn")
    def _consent_withdrawn(self, on: date, author: str | None = None) -> None:
        self._closed(ClosureReason.CONSENT_WITHDRAWN, None, on)
        self._remember("ConsentWithdrawn", on, {"closes": True})

    # ---- assessment, meetings and plans ----------------------------------------------------

    def finalise_assessment(self, on: date, today: date) -> None:
        self._move("finalise_assessment")
        self._check_date(on, today, ("consent was recorded", self.consented_on))
        self._assessment_finalised(on=on)

    @event("AssessmentFinalised")
    def _assessment_finalised(self, on: date, author: str | None = None) -> None:
        self._enter(State.ASSESSED, on)
        self._remember("AssessmentFinalised", on)

    def decide_fam(self, on: date, today: date) -> None:
        self._move("decide_fam")
        consented = self._need_consent("decide to convene a Family Action Meeting")
        self._check_date(
            on,
            today,
            ("consent was recorded", consented),
            ("the assessment was finalised", self.milestones.get("assessed")),
        )
        self._fam_decided(on=on)

    @event("FamDecided")
    def _fam_decided(self, on: date, author: str | None = None) -> None:
        self._enter(State.CONVENING, on)
        self._remember("FamDecided", on)

    def hold_fam(self, on: date, today: date) -> None:
        self._move("hold_fam")
        self._check_date(on, today, ("the decision to convene", self.milestones.get("convening")))
        self._fam_held(on=on)

    @event("FamHeld")
    def _fam_held(self, on: date, author: str | None = None) -> None:
        self._enter(State.PLAN_ACTIVE, on)
        self.milestones["plan"] = on
        self._remember("FamHeld", on)

    def agree_single_agency_plan(self, on: date, today: date) -> None:
        self._move("agree_single_agency_plan")
        consented = self._need_consent("agree a single-agency plan")
        self._check_date(
            on,
            today,
            ("consent was recorded", consented),
            ("the assessment was finalised", self.milestones.get("assessed")),
        )
        self._single_agency_plan_agreed(on=on)

    @event("SingleAgencyPlanAgreed")
    def _single_agency_plan_agreed(self, on: date, author: str | None = None) -> None:
        self._enter(State.PLAN_ACTIVE, on)
        self.milestones["plan"] = on
        self._remember("SingleAgencyPlanAgreed", on)

    def circulate_plan(self, on: date, today: date) -> None:
        self._move("circulate_plan")
        self._check_date(on, today, ("the plan was agreed", self.milestones.get("plan")))
        self._plan_circulated(on=on)

    @event("PlanCirculated")
    def _plan_circulated(self, on: date, author: str | None = None) -> None:
        self._remember("PlanCirculated", on)

    def hold_review(self, on: date, today: date, plan_changed: bool = False) -> None:
        self._move("hold_review")
        self._check_date(
            on,
            today,
            ("the plan was agreed", self.milestones.get("plan")),
            ("the previous review", self.milestones.get("review")),
        )
        self._review_held(plan_changed=plan_changed, on=on)

    @event("ReviewHeld")
    def _review_held(self, plan_changed: bool, on: date, author: str | None = None) -> None:
        self.milestones["review"] = on
        self._remember("ReviewHeld", on, {"plan_changed": plan_changed})

    # ---- contact and people ----------------------------------------------------------------

    def see_child(self, on: date, today: date) -> None:
        self._move("see_child")
        self._check_date(on, today)
        self._child_seen(on=on)

    @event("ChildSeen")
    def _child_seen(self, on: date, author: str | None = None) -> None:
        self._remember("ChildSeen", on)

    def change_lead(
        self, lead_name: str, lead_agency: str, on: date, today: date, subject: str | None = None
    ) -> None:
        self._move("change_lead")
        lead = _lead(lead_name, lead_agency, subject)
        if lead == self.lead:
            raise InvalidCommandError(
                f"{lead_name} ({lead_agency}) is already the lead professional"
            )
        self._check_date(on, today, ("the previous change of lead", self.milestones.get("lead")))
        self._lead_changed(lead=lead, on=on)

    @event("LeadChanged")
    def _lead_changed(self, lead: dict[str, str], on: date, author: str | None = None) -> None:
        self.lead = dict(lead)
        self.lead_history.append(lead["name"])
        self.milestones["lead"] = on
        self._remember("LeadChanged", on, {"lead": dict(lead)})

    # ---- GCP2 (the neglect tool) -----------------------------------------------------------

    def start_gcp2(self, on: date, today: date) -> None:
        self._move("start_gcp2")
        self._need_consent("start a GCP2")
        if self.milestones.get("gcp2_started") and not self._gcp2_done():
            raise InvalidCommandError(
                f"a GCP2 started on {self.milestones['gcp2_started']} is not completed yet"
            )
        self._check_date(on, today, ("consent was recorded", self.consented_on))
        self._gcp2_started(on=on)

    def _gcp2_done(self) -> bool:
        started, completed = (
            self.milestones.get("gcp2_started"),
            self.milestones.get("gcp2_completed"),
        )
        return started is not None and completed is not None and completed >= started

    @event("Gcp2Started")
    def _gcp2_started(self, on: date, author: str | None = None) -> None:
        self.milestones["gcp2_started"] = on
        self.milestones.pop("gcp2_completed", None)
        self._remember("Gcp2Started", on)

    def complete_gcp2(self, on: date, today: date) -> None:
        self._move("complete_gcp2")
        if "gcp2_started" not in self.milestones or self._gcp2_done():
            raise InvalidCommandError("cannot complete a GCP2: none is under way")
        self._check_date(on, today, ("the GCP2 was started", self.milestones["gcp2_started"]))
        self._gcp2_completed(on=on)

    @event("Gcp2Completed")
    def _gcp2_completed(self, on: date, author: str | None = None) -> None:
        self.milestones["gcp2_completed"] = on
        self._remember("Gcp2Completed", on)

    # ---- exceptions ------------------------------------------------------------------------

    def record_exception(self, clock: str, reason: str, on: date, today: date) -> None:
        self._move("record_exception")
        try:
            name = ClockName(clock)
        except ValueError:
            known = ", ".join(c.value for c in ClockName)
            raise InvalidCommandError(f"unknown clock '{clock}' (clocks: {known})") from None
        if not reason.strip():
            raise InvalidCommandError("an exception needs a reason")
        started = [
            span for span in spans(self.facts) if span.clock is name and span.started_on <= on
        ]
        if not started:
            raise InvalidCommandError(f"the {name.value} clock had not started by {on}")
        self._check_date(on, today, (f"the {name.value} clock started", started[-1].started_on))
        self._exception_recorded(clock=name.value, reason=reason.strip(), on=on)

    @event("ExceptionRecorded")
    def _exception_recorded(
        self, clock: str, reason: str, on: date, author: str | None = None
    ) -> None:
        self._remember("ExceptionRecorded", on, {"clock": clock, "reason": reason})

    # ---- step-up, MASH and closure ---------------------------------------------------------

    def step_up(self, level: int, on: date, today: date) -> None:
        if level not in (3, 4):
            raise InvalidCommandError(f"a step-up is to level 3 or 4, not {level}")
        self._move("step_up")
        self._check_date(on, today, ("the current stage began", self._state_since()))
        self._stepped_up(level=level, on=on)

    def _state_since(self) -> date | None:
        return self.milestones.get(self.state.value, self.opened_on)

    @event("SteppedUp")
    def _stepped_up(self, level: int, on: date, author: str | None = None) -> None:
        self.state_before_mash = self.state
        self.mash_level = level
        self._enter(State.AWAITING_MASH, on)
        self._remember("SteppedUp", on, {"level": level})

    def record_mash_outcome(self, level: int, on: date, today: date) -> None:
        if level not in (2, 3, 4):
            raise InvalidCommandError(f"a MASH outcome is level 2, 3 or 4, not {level}")
        if level == 2:
            back = self.state_before_mash or self.state
            self._move("mash_keeps_at_level_2", back)
        else:
            self._move("mash_accepts")
        self._check_date(on, today, ("the step-up to MASH", self.milestones.get("awaiting_mash")))
        self._mash_outcome_recorded(level=level, on=on)

    @event("MashOutcomeRecorded")
    def _mash_outcome_recorded(self, level: int, on: date, author: str | None = None) -> None:
        if level == 2:
            self._enter(self.state_before_mash or State.REFERRED, on)
            self.state_before_mash = None
        else:
            self._closed(ClosureReason.STEPPED_UP, f"MASH accepted the family at level {level}", on)
        self._remember("MashOutcomeRecorded", on, {"level": level, "closes": level != 2})

    def close(self, reason: str, summary: str, on: date, today: date) -> None:
        try:
            why = ClosureReason(reason)
        except ValueError:
            known = ", ".join(r.value for r in ClosureReason)
            raise InvalidCommandError(
                f"unknown closure reason '{reason}' (reasons: {known})"
            ) from None
        if not summary.strip():
            raise InvalidCommandError("a closure needs a summary of what changed for the family")
        self._move("close")
        self._check_date(on, today, ("the latest step recorded", self.latest_on))
        self._episode_closed(reason=why.value, summary=summary.strip(), on=on)

    @event("Closed")
    def _episode_closed(
        self, reason: str, summary: str, on: date, author: str | None = None
    ) -> None:
        self._closed(ClosureReason(reason), summary, on)
        self._remember("Closed", on, {"reason": reason, "closes": True})

    def _closed(self, reason: ClosureReason, summary: str | None, on: date) -> None:
        self.closed_reason = reason
        self.closure_summary = summary
        self.closed_on = on
        self.state_before_mash = None
        self._enter(State.CLOSED, on)

    # ---- family feedback (B&NES toolkits 5 and 6) ------------------------------------------

    def record_feedback(
        self,
        respondent: str,
        point: str,
        answers: dict[str, str],
        on: date,
        today: date,
        comments: str | None = None,
    ) -> None:
        who = _choice(Respondent, respondent, "respondent")
        when = _choice(FeedbackPoint, point, "feedback point")
        self._move("record_feedback")
        if not self.is_open and when is not FeedbackPoint.CLOSURE:
            raise EpisodeClosedError(
                "cannot record family feedback: the episode is closed; only feedback at "
                "closure can still be recorded"
            )
        consented = self._need_consent("record family feedback")
        sheet = STATEMENTS[who]
        unknown = sorted(set(answers) - set(sheet))
        if unknown:
            raise InvalidCommandError(
                f"the {who.value.replace('_', ' ')} sheet has no statement "
                f"{', '.join(unknown)} (statements: {', '.join(sheet)})"
            )
        if not answers and not (comments or "").strip():
            raise InvalidCommandError("feedback needs at least one answer or a comment")
        rated = {key: _choice(Rating, value, f"rating of {key}").value
                 for key, value in answers.items()}  # fmt: skip
        after: list[tuple[str, date | None]] = [("consent was recorded", consented)]
        if when is FeedbackPoint.THIRD_REVIEW:
            reviews = sorted(f.on for f in self.facts if f.kind == "ReviewHeld")
            if len(reviews) < 3:
                raise InvalidCommandError(
                    "cannot record feedback at the third review: "
                    f"{len(reviews)} review(s) held so far"
                )
            after.append(("the third review", reviews[2]))
        for earlier in self.feedback:
            if earlier["respondent"] == who.value and earlier["point"] == when.value:
                raise InvalidCommandError(
                    f"feedback from the {who.value.replace('_', ' ')} {POINT_WORDS[when]} is "
                    f"already recorded (on {earlier['on']})"
                )
        self._check_date(on, today, *after)
        self._feedback_recorded(
            respondent=who.value, point=when.value, answers=rated,
            comments=(comments or "").strip() or None,
            agency=(self.lead or {}).get("agency", ""), on=on,
        )  # fmt: skip

    @event("FeedbackRecorded")
    def _feedback_recorded(
        self, respondent: str, point: str, answers: dict[str, str], comments: str | None,
        agency: str, on: date, author: str | None = None,
    ) -> None:  # fmt: skip
        self.feedback.append({"respondent": respondent, "point": point, "on": on})
        self._remember("FeedbackRecorded", on, {"respondent": respondent, "point": point})

    # ---- the Level 2 Panel (St Helens standards, 2022) -------------------------------------

    def request_panel(self, asks: list[str], summary: str, on: date, today: date) -> None:
        wanted = sorted({_choice(PanelAsk, ask, "request").value for ask in asks})
        if not wanted:
            raise InvalidCommandError(
                "a request to the Level 2 Panel asks for advice, services or family_support"
            )
        if not summary.strip():
            raise InvalidCommandError("a request to the Level 2 Panel needs a summary of the need")
        self._move("request_panel")
        if self.consented_on is None:
            raise InvalidCommandError(
                "cannot ask the Level 2 Panel yet: the family has not given consent. Record "
                "their consent first; a family's case goes to the panel only with their agreement"
            )
        waiting = self._panel_request_awaiting_outcome()
        if waiting is not None:
            raise InvalidCommandError(
                f"request {waiting['request']} to the Level 2 Panel (made on "
                f"{waiting['requested_on']}) is still awaiting the panel's outcome"
            )
        self._check_date(on, today, ("consent was recorded", self.consented_on))
        self._panel_requested(
            request=len(self.panel_requests) + 1, asks=wanted, summary=summary.strip(), on=on
        )

    def _panel_request_awaiting_outcome(self) -> dict[str, Any] | None:
        return next((r for r in self.panel_requests if r["outcome"] is None), None)

    @event("PanelRequested")
    def _panel_requested(
        self, request: int, asks: list[str], summary: str, on: date, author: str | None = None
    ) -> None:
        self.panel_requests.append({"request": request, "asks": list(asks), "requested_on": on,
                                    "outcome": None, "outcome_on": None, "reviewed_on": None})  # fmt: skip
        self._remember("PanelRequested", on, {"request": request})

    def record_panel_outcome(
        self,
        outcome: str,
        services: list[dict[str, str]],
        on: date,
        today: date,
        notes: str | None = None,
    ) -> None:
        result = _choice(PanelOutcome, outcome, "panel outcome")
        self._move("record_panel_outcome")
        waiting = self._panel_request_awaiting_outcome()
        if waiting is None:
            raise InvalidCommandError(
                "no request to the Level 2 Panel is awaiting an outcome: record the request first"
            )
        allocated = []
        for item in services:
            service, provider = item.get("service", "").strip(), item.get("provider", "").strip()
            if not service or not provider:
                raise InvalidCommandError(
                    "each allocated service names the service and who provides it"
                )
            allocated.append({"service": service, "provider": provider})
        if result is PanelOutcome.SERVICES_ALLOCATED and not allocated:
            raise InvalidCommandError("an allocation names at least one service and its provider")
        if result is PanelOutcome.ADVICE and allocated:
            raise InvalidCommandError(
                "advice allocates no services: record the outcome as services_allocated"
            )
        self._check_date(on, today, ("the request to the panel", waiting["requested_on"]))
        self._panel_outcome_recorded(
            request=waiting["request"], outcome=result.value, services=allocated,
            notes=(notes or "").strip() or None, on=on,
        )  # fmt: skip

    @event("PanelOutcomeRecorded")
    def _panel_outcome_recorded(
        self, request: int, outcome: str, services: list[dict[str, str]], notes: str | None,
        on: date, author: str | None = None,
    ) -> None:  # fmt: skip
        found = self.panel_requests[request - 1]
        found.update(outcome=outcome, outcome_on=on)
        allocated = outcome == PanelOutcome.SERVICES_ALLOCATED.value
        self._remember("PanelOutcomeRecorded", on, {"request": request, "allocated": allocated})

    def record_panel_review(
        self, further_support: bool, on: date, today: date, notes: str | None = None
    ) -> None:
        self._move("record_panel_review")
        waiting = next(
            (r for r in self.panel_requests
             if r["outcome"] == PanelOutcome.SERVICES_ALLOCATED.value and r["reviewed_on"] is None),
            None,
        )  # fmt: skip
        if waiting is None:
            raise InvalidCommandError("no allocation by the Level 2 Panel is awaiting its review")
        self._check_date(on, today, ("the panel's allocation", waiting["outcome_on"]))
        self._panel_reviewed(
            request=waiting["request"], further_support=further_support,
            notes=(notes or "").strip() or None, on=on,
        )  # fmt: skip

    @event("PanelReviewed")
    def _panel_reviewed(
        self, request: int, further_support: bool, notes: str | None, on: date,
        author: str | None = None,
    ) -> None:  # fmt: skip
        self.panel_requests[request - 1]["reviewed_on"] = on
        self._remember(
            "PanelReviewed", on, {"request": request, "further_support": further_support}
        )

    # ---- Supporting Families outcomes ------------------------------------------------------

    def record_needs(
        self, needs: list[str], whole_family_assessment: bool, on: date, today: date
    ) -> None:
        """The family's needs identified at assessment, against the ten headline outcomes.
        Recorded again (a fuller assessment), the later list replaces the earlier one."""
        found = sorted({_choice(Outcome, need, "headline outcome").value for need in needs})
        if not found:
            raise InvalidCommandError(
                "record at least one need against the headline outcomes "
                f"({', '.join(o.value for o in Outcome)})"
            )
        self._move("record_needs")
        if self.consented_on is None:
            raise InvalidCommandError(
                "cannot record the family's needs yet: the family has not given consent. Record "
                "their consent first; needs are identified at the assessment they agreed to"
            )
        self._check_date(on, today, ("consent was recorded", self.consented_on))
        self._needs_recorded(needs=found, whole_family_assessment=whole_family_assessment, on=on)

    @event("NeedsRecorded")
    def _needs_recorded(
        self, needs: list[str], whole_family_assessment: bool, on: date, author: str | None = None
    ) -> None:
        self.needs = list(needs)
        self.whole_family_assessment = whole_family_assessment
        self._remember("NeedsRecorded", on, {"needs": list(needs)})

    def record_outcomes(self, outcomes: dict[str, bool], on: date, today: date) -> None:
        """Whether each identified need was met, confirmed at closing: on or after the closure."""
        self._move("record_outcomes")
        given = {_choice(Outcome, need, "headline outcome").value: bool(met)
                 for need, met in outcomes.items()}  # fmt: skip
        if not self.needs:
            raise InvalidCommandError(
                "cannot record outcomes: no needs were identified for this episode"
            )
        if self.outcomes is not None:
            raise InvalidCommandError(f"outcomes are already recorded (on {self.outcomes_on})")
        unknown = sorted(set(given) - set(self.needs))
        if unknown:
            raise InvalidCommandError(
                f"outcome for {', '.join(unknown)}: not a need identified for this episode "
                f"(needs: {', '.join(self.needs)})"
            )
        missing = sorted(set(self.needs) - set(given))
        if missing:
            raise InvalidCommandError(
                f"say whether each identified need was met; missing: {', '.join(missing)}"
            )
        self._check_date(on, today, ("the episode was closed", self.closed_on))
        self._outcomes_recorded(outcomes=dict(sorted(given.items())), on=on)

    @event("OutcomesRecorded")
    def _outcomes_recorded(
        self, outcomes: dict[str, bool], on: date, author: str | None = None
    ) -> None:
        self.outcomes = dict(outcomes)
        self.outcomes_on = on
        met = sorted(need for need, ok in outcomes.items() if ok)
        self._remember("OutcomesRecorded", on, {"met": met})

    def record_sustained_check(self, sustained: dict[str, bool], on: date, today: date) -> None:
        """Whether each met outcome was sustained, checked six months after the closing."""
        self._move("record_sustained_check")
        met = sorted(need for need, ok in (self.outcomes or {}).items() if ok)
        if not met:
            raise InvalidCommandError(
                "cannot record a sustained check: no outcome was recorded as met at closure"
            )
        if self.sustained is not None:
            raise InvalidCommandError(
                f"the sustained check is already recorded (on {self.sustained_on})"
            )
        given = {_choice(Outcome, need, "headline outcome").value: bool(kept)
                 for need, kept in sustained.items()}  # fmt: skip
        unknown = sorted(set(given) - set(met))
        if unknown:
            raise InvalidCommandError(
                f"{', '.join(unknown)}: not an outcome met at closure (met: {', '.join(met)})"
            )
        missing = sorted(set(met) - set(given))
        if missing:
            raise InvalidCommandError(
                f"say whether each met outcome was sustained; missing: {', '.join(missing)}"
            )
        assert self.closed_on is not None  # outcomes are recorded only on a closed episode
        self._check_date(
            on,
            today,
            ("the outcomes were recorded", self.outcomes_on),
            ("six months after the closing", add_months(self.closed_on, 6)),
        )
        self._sustained_check_recorded(sustained=dict(sorted(given.items())), on=on)

    @event("SustainedCheckRecorded")
    def _sustained_check_recorded(
        self, sustained: dict[str, bool], on: date, author: str | None = None
    ) -> None:
        self.sustained = dict(sustained)
        self.sustained_on = on
        self._remember("SustainedCheckRecorded", on)

    # ---- alerts (raised by the sweep; part of the record) ---------------------------------

    def raise_alert(
        self,
        *,
        clock: ClockName,
        occurrence: int,
        rung: Rung,
        fell_due_on: date,
        recipients: list[str],
        today: date,
    ) -> bool:
        """Raise the alert unless it is already raised or the clock is no longer running as
        at today (the sweep re-checks here what its read model said). True if raised."""
        ident = alert_id(self.reference, clock, occurrence, rung)
        if ident in self.alerts or not (self.is_open or clock in AFTER_CLOSURE):
            return False
        span = _span_of(self, clock, occurrence)
        if span is None or not span.as_at(today).running:
            return False
        self._alert_raised(
            alert_id=ident, clock=clock.value, occurrence=occurrence, rung=rung.value,
            fell_due_on=fell_due_on, recipients=list(recipients), on=today,
        )  # fmt: skip
        return True

    def acknowledge_alert(self, ident: str, by: str, today: date) -> None:
        alert = self.alerts.get(ident)
        if alert is None:
            raise InvalidCommandError(f"no alert {ident} on episode {self.reference}")
        if not by.strip():
            raise InvalidCommandError("an acknowledgement names who acknowledged the alert")
        if alert["acknowledged_on"] is not None:
            raise InvalidCommandError(
                f"alert {ident} was acknowledged by {alert['acknowledged_by']} on "
                f"{alert['acknowledged_on']}"
            )
        self._alert_acknowledged(alert_id=ident, by=by.strip(), on=today)

    def clear_settled_alerts(self) -> None:
        """Clear every alert whose awaited step has happened (or whose episode closed)."""
        if all(alert["cleared_on"] is not None for alert in self.alerts.values()):
            return  # (none open: the clocks need not be worked out)
        current = {(span.clock.value, span.occurrence): span for span in spans(self.facts)}
        for ident, alert in list(self.alerts.items()):
            span = current.get((alert["clock"], alert["occurrence"]))
            if alert["cleared_on"] is None and span is not None and not span.running:
                settled = span.stopped_on or span.closed_on
                assert settled is not None  # a span that is not running stopped or closed
                self._alert_cleared(alert_id=ident, on=settled)

    @event("AlertRaised")
    def _alert_raised(
        self, alert_id: str, clock: str, occurrence: int, rung: str, fell_due_on: date,
        recipients: list[str], on: date,
     author: str | None = None) -> None:  # fmt: skip
        self.alerts[alert_id] = {
            "clock": clock, "occurrence": occurrence, "rung": rung, "fell_due_on": fell_due_on,
            "raised_on": on, "recipients": list(recipients), "acknowledged_by": None,
            "acknowledged_on": None, "cleared_on": None,
        }  # fmt: skip

    @event("AlertAcknowledged")
    def _alert_acknowledged(
        self, alert_id: str, by: str, on: date, author: str | None = None
    ) -> None:
        self.alerts[alert_id].update(acknowledged_by=by, acknowledged_on=on)

    @event("AlertCleared")
    def _alert_cleared(self, alert_id: str, on: date, author: str | None = None) -> None:
        self.alerts[alert_id]["cleared_on"] = on


def _choice(kind: type[StrEnum], value: str, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(item.value for item in kind)
        raise InvalidCommandError(f"unknown {what} '{value}' ({known})") from None


def _span_of(episode: Episode, clock: ClockName, occurrence: int) -> Span | None:
    return next(
        (s for s in spans(episode.facts) if s.clock is clock and s.occurrence == occurrence), None
    )


class ChildRecord(Authored):
    """Which episode, if any, is open for a child. Saved with the episode it names, so the
    store's own version check lets only one of two racing openings through."""

    @staticmethod
    def create_id(child: str) -> UUID:
        return child_record_id(child)

    @event("Registered")
    def __init__(self, child: str, author: str | None = None) -> None:
        self.child = child
        self.open_episode: str | None = None
        self.episodes: list[str] = []

    def episode_opened(self, reference: str) -> None:
        if self.open_episode is not None:
            raise ChildAlreadyOpenError(self.child, self.open_episode)
        self._episode_opened(reference=reference)

    @event("EpisodeOpened")
    def _episode_opened(self, reference: str, author: str | None = None) -> None:
        self.open_episode = reference
        self.episodes.append(reference)

    def episode_closed(self, reference: str) -> None:
        if self.open_episode != reference:
            raise EpisodeClosedError(f"episode {reference} is not the open episode of {self.child}")
        self._episode_closed(reference=reference)

    @event("EpisodeClosed")
    def _episode_closed(self, reference: str, author: str | None = None) -> None:
        self.open_episode = None
