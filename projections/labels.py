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
