"""What the record already proves: proposed scores for the timeliness items of the St Helens
audit, each with the facts it rests on. The auditor confirms or overrides them with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from aggregates.calendar import WorkingCalendar
from aggregates.clocks import ClockEntry, Status, schedule
from aggregates.facts import Fact
from aggregates.policy import ClockName, Policy
from aggregates.schemes import EXCEEDED, MET, NOT_APPLICABLE, NOT_MET, PARTIALLY_MET, Grade

TEN_WEEKS = timedelta(weeks=10)
WELL_WITHIN_WORKING_DAYS = 10  # "well within" the 20 working days: half of them or fewer


@dataclass(frozen=True)
class Proposal:
    item: str
    score: int | str | None  # a St Helens score, or NOT_APPLICABLE ("n/a")
    grade: Grade | None
    facts: tuple[str, ...]


def _first(facts: Sequence[Fact], kind: str, **details: object) -> Fact | None:
    return next(
        (f for f in sorted(facts, key=lambda f: f.on) if f.kind == kind
         and all(f.details.get(k) == v for k, v in details.items())),
        None,
    )  # fmt: skip


def propose_a1(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> Proposal:
    """A1 from consent to the finalised assessment: within the timescale (well within: 10
    working days or fewer) is met (exceeded); after it but inside 10 weeks is partially met;
    10 weeks or more, or still not finalised after 10 weeks, is not met."""
    consent = _first(facts, "ConsentRecorded", first=True)
    entries = [
        e for e in schedule(facts, policy, calendar, as_at) if e.clock is ClockName.ASSESSMENT
    ]
    if consent is None or not entries:
        return Proposal("A1", None, None, ("no Early Help assessment clock ran on this episode",))
    entry = entries[0]
    finished = entry.stopped_on
    lines = [f"consent recorded {consent.on}", f"assessment due {entry.due_on}"]
    if finished is None:
        waited = as_at - consent.on
        lines.append(f"not finalised by {as_at} ({waited.days} days after consent)")
        score = NOT_MET if waited >= TEN_WEEKS else None
        return Proposal("A1", score, None, tuple(lines))
    taken = calendar.working_days_after(consent.on, finished)
    lines.append(
        f"finalised {finished}: {taken} working days, {(finished - consent.on).days} days after consent"
    )
    if finished - consent.on >= TEN_WEEKS:
        score = NOT_MET
    elif entry.status is Status.LATE:
        score = PARTIALLY_MET
        lines.append(f"{entry.working_days_late} working days late")
    elif taken <= WELL_WITHIN_WORKING_DAYS:
        score = EXCEEDED
    else:
        score = MET
    return Proposal("A1", score, None, tuple(lines))


def _review_entries(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> list[ClockEntry]:
    reviews = (ClockName.FIRST_REVIEW, ClockName.NEXT_REVIEW)
    return [e for e in schedule(facts, policy, calendar, as_at) if e.clock in reviews and e.status is not Status.PENDING
            and e.status is not Status.CANCELLED]  # fmt: skip


class Outcome(StrEnum):
    """What became of one review interval."""

    IN_TIME = "in time"
    LATE_WITH_REASON = "late with the reason recorded"
    LATE = "late"
    MISSED = "missed"


@dataclass(frozen=True)
class ReviewInterval:
    clock: ClockName
    due_on: date
    outcome: Outcome
    detail: str


def review_intervals(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> list[ReviewInterval]:
    """Every review interval that has ended by `as_at`, with its outcome.

    A review clock stops only when a review is held, so one running clock can stand for many
    intervals with no review. Each review interval that passed without a review is missed: after
    a due date with no review, the next review was owed one `next_review` interval later (as if
    the review had been held on its last day), and so on until a review was held, the episode
    closed, or `as_at`. A review held late counts as late for the first date it was owed."""
    pre_birth = any(f.kind == "Opened" and f.details.get("pre_birth") for f in facts)
    closed = min((f.on for f in facts if f.details.get("closes") and f.on <= as_at), default=None)
    cadence = policy.rule(ClockName.NEXT_REVIEW)
    found = []
    for e in _review_entries(facts, policy, calendar, as_at):
        reason = f"reason recorded ({e.exception})" if e.exception else "no reason recorded"
        if e.status is Status.MET:
            found.append(
                ReviewInterval(e.clock, e.due_on, Outcome.IN_TIME, f"held {e.stopped_on}, in time")
            )
        elif e.status is Status.LATE:
            outcome = Outcome.LATE_WITH_REASON if e.exception else Outcome.LATE
            detail = f"held {e.stopped_on}, late, {e.working_days_late} working days late, {reason}"
            found.append(ReviewInterval(e.clock, e.due_on, outcome, detail))
        else:  # overdue, or the episode closed after the due date: no review in this interval
            detail = "missed, no review held" + (f"; {reason}" if e.exception else "")
            found.append(ReviewInterval(e.clock, e.due_on, Outcome.MISSED, detail))
        until = e.stopped_on or (closed if e.status is Status.MISSED else None) or as_at
        due = e.due_on
        while cadence.enabled:
            owed = cadence.timescale(pre_birth).due_date(due, calendar, policy.roll_forward)
            if owed <= due or owed >= until:
                break
            found.append(ReviewInterval(ClockName.NEXT_REVIEW, owed, Outcome.MISSED,
                                        "missed, no review held"))  # fmt: skip
            due = owed
    return found


def propose_r6(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> Proposal:
    """R6 from the review intervals (`review_intervals`): every one in time (or late with the
    reason recorded) is exceeded; most in time is met; one gap (late or missed) is partially
    met; more gaps, or no review held at all once one was due, is not met."""
    intervals = review_intervals(facts, policy, calendar, as_at)
    if not intervals:
        return Proposal("R6", None, None, ("no review has fallen due yet",))
    count = {outcome: sum(i.outcome is outcome for i in intervals) for outcome in Outcome}
    lines = [
        f"{len(intervals)} review intervals: "
        + ", ".join(f"{count[outcome]} {outcome.value}" for outcome in Outcome)
    ]
    for number, i in enumerate(intervals, start=1):
        lines.append(f"interval {number} ({i.clock.value}) due {i.due_on}: {i.detail}")
    credited = count[Outcome.IN_TIME] + count[Outcome.LATE_WITH_REASON]
    gaps = count[Outcome.LATE] + count[Outcome.MISSED]
    if not any(f.kind == "ReviewHeld" and f.on <= as_at for f in facts):
        score = NOT_MET
        lines.append("no review has been held since the plan began")
    elif gaps == 0:
        score = EXCEEDED
    elif credited * 2 > len(intervals):
        score = MET
    elif gaps == 1:
        score = PARTIALLY_MET
    else:
        score = NOT_MET
    return Proposal("R6", score, None, tuple(lines))


def propose_r8(facts: Sequence[Fact]) -> Proposal:
    """R8: a single-agency plan holds no Family Action Meeting by design, so R8 does not apply
    (n/a, unscored); otherwise no Family Action Meeting or review held is not met; meetings held
    is met (whether actions were reviewed in the minutes is the auditor's judgement)."""
    meetings = sorted((f for f in facts if f.kind in ("FamHeld", "ReviewHeld")), key=lambda f: f.on)
    held = ", ".join(str(f.on) for f in meetings)
    plan = _first(facts, "SingleAgencyPlanAgreed")
    if plan is not None and not any(f.kind == "FamHeld" for f in meetings):
        lines = [f"single-agency plan agreed {plan.on}: no Family Action Meeting by design,"
                 " so R8 does not apply"]  # fmt: skip
        if meetings:
            lines.append(f"{len(meetings)} review(s) held: {held}")
        return Proposal("R8", NOT_APPLICABLE, None, tuple(lines))
    if not meetings:
        return Proposal("R8", NOT_MET, None, ("no Family Action Meeting or review has been held",))
    return Proposal("R8", MET, None, (f"{len(meetings)} meeting(s) held: {held}",))


def propose_closure(
    facts: Sequence[Fact], closed_reason: str | None, summary: str | None
) -> Proposal:
    """The closure section: closed with a reason and its evidence is Good (Outstanding also
    needs the family's feedback, which is the auditor's to confirm); closed with no summary
    of the evidence is Requires Improvement; still open is left to the auditor."""
    closing = next((f for f in facts if f.details.get("closes")), None)
    if closing is None or closed_reason is None:
        return Proposal("closure", None, None, ("the episode is still open",))
    lines = [f"closed {closing.on}: {closed_reason.replace('_', ' ')}"]
    if summary:
        lines.append(f"summary recorded: {summary}")
        return Proposal("closure", None, Grade.GOOD, tuple(lines))
    lines.append("no summary of the evidence for closure")
    return Proposal("closure", None, Grade.REQUIRES_IMPROVEMENT, tuple(lines))
