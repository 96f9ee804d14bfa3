"""Human-readable labels for the timeline: what a lead professional would write in the record."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aggregates.policy import ClockName

Body = dict[str, Any]


def _opened(body: Body) -> str:
    lead = body.get("lead") or {}
    how = (
        "Stepped down from social care"
        if body.get("origin") == "step_down"
        else "Referral received"
    )
    unborn = " (pre-birth)" if body.get("pre_birth") else ""
    return f"{how}{unborn}; lead professional {lead.get('name')} ({lead.get('agency')})"


def _agencies(body: Body) -> str:
    return ", ".join(body.get("agencies") or [])


_FROM = {"child": "the child or young person", "parent_carer": "the parent or carer"}
_AT = {
    "during_assessment": "during the assessment",
    "third_review": "at the third review",
    "closure": "at closure",
}


def _feedback(body: Body) -> str:
    answers = body.get("answers") or {}
    rated = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in sorted(answers.items()))
    return (
        f"Feedback from {_FROM.get(str(body.get('from') or body.get('respondent')), 'the family')}"
        f" {_AT.get(str(body.get('point')), str(body.get('point')))}"
        + (f" ({rated})" if rated else "")
        + ("; with comments" if body.get("comments") else "")
    )


def _panel_outcome(body: Body) -> str:
    if body.get("outcome") == "advice":
        return f"Level 2 Panel gave advice on request {body.get('request')}"
    services = "; ".join(
        f"{s.get('service')} with {s.get('provider')}" for s in body.get("services") or []
    )
    return f"Level 2 Panel allocated {services} (request {body.get('request')}); review in three months"


def _words(codes: Any) -> str:
    return ", ".join(str(c).replace("_", " ") for c in (codes or []))


def _met(flags: Any, yes: str, no: str) -> str:
    items = sorted((flags or {}).items())
    return "; ".join(f"{str(k).replace('_', ' ')}: {yes if v else no}" for k, v in items)


LABELS: dict[str, Callable[[Body], str]] = {
    "Opened": _opened,
    "ConsentRecorded": lambda b: f"Consent recorded for {_agencies(b)}",
    "ConsentWithheld": lambda b: (
        "Consent withheld"
        + (" with a safeguarding concern: referred to MASH" if b.get("safeguarding") else "")
    ),
    "ConsentWithdrawn": lambda b: "Consent withdrawn; episode closed",
    "AssessmentFinalised": lambda b: "Early Help assessment finalised",
    "FamDecided": lambda b: "Decision to convene a Family Action Meeting",
    "FamHeld": lambda b: "Family Action Meeting held; plan agreed",
    "SingleAgencyPlanAgreed": lambda b: "Single-agency plan agreed",
    "PlanCirculated": lambda b: "Plan circulated",
    "ReviewHeld": lambda b: "Review held" + ("; plan changed" if b.get("plan_changed") else ""),
    "ChildSeen": lambda b: "Child seen alone",
    "LeadChanged": lambda b: (
        "Lead professional changed to "
        f"{(b.get('lead') or {}).get('name')} ({(b.get('lead') or {}).get('agency')})"
    ),
    "Gcp2Started": lambda b: "GCP2 started",
    "Gcp2Completed": lambda b: "GCP2 completed",
    "ExceptionRecorded": lambda b: (
        f"Exception recorded on the {_clock(b.get('clock'))} clock: {b.get('reason')}"
    ),
    "SteppedUp": lambda b: f"Stepped up to MASH (level {b.get('level')})",
    "MashOutcomeRecorded": lambda b: (
        "MASH outcome: "
        + ("stays at level 2" if b.get("level") == 2 else f"level {b.get('level')}; episode closed")
    ),
    "Closed": lambda b: f"Episode closed: {str(b.get('reason', '')).replace('_', ' ')}",
    "FeedbackRecorded": _feedback,
    "PanelRequested": lambda b: (
        f"Request {b.get('request')} to the Level 2 Panel for "
        + " and ".join(str(a).replace("_", " ") for a in b.get("asks") or [])
    ),
    "PanelOutcomeRecorded": _panel_outcome,
    "PanelReviewed": lambda b: (
        f"Level 2 Panel reviewed its allocation (request {b.get('request')}): "
        + ("further support agreed" if b.get("further_support") else "no further support needed")
    ),
    "NeedsRecorded": lambda b: (
        f"Needs identified: {_words(b.get('needs'))}"
        + ("; whole-family assessment" if b.get("whole_family_assessment") else "")
    ),
    "OutcomesRecorded": lambda b: (
        f"Outcomes at closure ({_met(b.get('outcomes'), 'met', 'not met')}); "
        + (
            "sustained check due six months after the closing"
            if any((b.get("outcomes") or {}).values())
            else "none met"
        )
    ),
    "SustainedCheckRecorded": lambda b: (
        f"Outcomes six months on ({_met(b.get('sustained'), 'sustained', 'not sustained')})"
    ),
    "AlertRaised": lambda b: (
        f"Alert: {_clock(b.get('clock'))} "
        + {"due_soon": "due soon", "overdue": "overdue", "escalated": "overdue, escalated"}.get(
            str(b.get("rung")), str(b.get("rung"))
        )
        + f" (fell due {b.get('fell_due_on')}; to {', '.join(b.get('recipients') or [])})"
    ),
    "AlertAcknowledged": lambda b: f"Alert {b.get('alert_id')} acknowledged by {b.get('by')}",
    "AlertCleared": lambda b: f"Alert {b.get('alert_id')} cleared: the awaited step happened",
    "SafeguardingConcernRaised": lambda b: (
        f"Safeguarding concern raised by auditor {b.get('auditor')} "
        f"on episode {b.get('episode')}: {b.get('note')}"
    ),
}

CLOCK_WORDS = {
    ClockName.ASSESSMENT: "assessment",
    ClockName.FAM: "Family Action Meeting",
    ClockName.PLAN_CIRCULATION: "plan circulation",
    ClockName.FIRST_REVIEW: "first review",
    ClockName.NEXT_REVIEW: "next review",
    ClockName.MODIFIED_PLAN_CIRCULATION: "modified plan circulation",
    ClockName.CHILD_SEEN: "child seen",
    ClockName.GCP2: "GCP2",
    ClockName.LONG_RUNNING: "six-month",
    ClockName.FEEDBACK_ASSESSMENT: "family feedback during the assessment",
    ClockName.FEEDBACK_THIRD_REVIEW: "family feedback at the third review",
    ClockName.FEEDBACK_CLOSURE: "family feedback at closure",
    ClockName.PANEL_REVIEW: "Level 2 Panel review",
    ClockName.OUTCOMES_SUSTAINED: "outcomes sustained",
}


def _clock(name: object) -> str:
    try:
        return CLOCK_WORDS[ClockName(str(name))]
    except ValueError:
        return str(name)


def label_of(body: Body) -> str:
    make = LABELS.get(str(body.get("event")))
    return make(body) if make else str(body.get("event"))


def milestone_label(clock: str, status: str, working_days_late: int) -> str:
    words = _clock(clock)
    if status in ("late", "overdue", "missed"):
        return (
            f"{words[0].upper()}{words[1:]} due ({status}, {working_days_late} working days late)"
        )
    return f"{words[0].upper()}{words[1:]} due ({status})"
