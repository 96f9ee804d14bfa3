"""What the record already proves: proposed scores for the timeliness items of the St Helens
audit, each with the facts it rests on. The auditor confirms or overrides them with a reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from aggregates.calendar import WorkingCalendar
from aggregates.clocks import ClockEntry, Status, schedule
from aggregates.facts import Fact
from aggregates.policy import ClockName, Policy
from aggregates.schemes import EXCEEDED, MET, NOT_MET, PARTIALLY_MET, Grade

TEN_WEEKS = timedelta(weeks=10)
WELL_WITHIN_WORKING_DAYS = 10  # "well within" the 20 working days: half of them or fewer


@dataclass(frozen=True)
class Proposal:
    item: str
    score: int | None
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


def propose_r6(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> Proposal:
    """R6 from review timeliness: every review in time (or late with the reason recorded) is
    exceeded; most in time is met; one gap is partially met; reviews consistently late is not met."""
    entries = _review_entries(facts, policy, calendar, as_at)
    if not entries:
        return Proposal("R6", None, None, ("no review has fallen due yet",))
    lines = []
    in_time = 0
    for e in entries:
        label = f"{e.clock.value} #{e.occurrence} due {e.due_on}"
        if e.status is Status.MET:
            in_time += 1
            lines.append(f"{label}: held {e.stopped_on}, in time")
        elif e.exception:
            in_time += 1
            lines.append(
                f"{label}: {e.status.value}, {e.working_days_late} working days late, reason recorded ({e.exception})"
            )
        else:
            lines.append(
                f"{label}: {e.status.value}, {e.working_days_late} working days late, no reason recorded"
            )
    late = len(entries) - in_time
    if late == 0:
        score = EXCEEDED
    elif in_time * 2 > len(entries):
        score = MET
    elif late == 1:
        score = PARTIALLY_MET
    else:
        score = NOT_MET
    return Proposal("R6", score, None, (f"{in_time} of {len(entries)} reviews in time", *lines))


def propose_r8(facts: Sequence[Fact]) -> Proposal:
    """R8: no Family Action Meeting or review held is not met; meetings held is met (whether
    actions were reviewed in the minutes is the auditor's judgement)."""
    meetings = [f for f in facts if f.kind in ("FamHeld", "ReviewHeld")]
    if not meetings:
        return Proposal("R8", NOT_MET, None, ("no Family Action Meeting or review has been held",))
    held = ", ".join(str(f.on) for f in sorted(meetings, key=lambda f: f.on))
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
