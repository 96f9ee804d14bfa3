"""The clocks of an episode, derived from its facts under its council's policy.

`spans` walks the facts in business-date order and says when each clock occurrence started and
stopped (or when the episode closed under it); it needs no policy. `schedule` adds due dates and
the status as at a date, counting only facts whose business date is on or before that date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from aggregates.calendar import WorkingCalendar
from aggregates.facts import Fact
from aggregates.policy import ClockName, Policy, Timescale

C = ClockName


class Status(StrEnum):
    PENDING = "pending"
    OVERDUE = "overdue"
    MET = "met"
    LATE = "late"
    CANCELLED = "cancelled"
    MISSED = "missed"


@dataclass(slots=True)
class Span:
    """One occurrence of a clock: when it started and what ended it, if anything has."""

    clock: ClockName
    occurrence: int
    started_on: date
    stopped_on: date | None = None
    closed_on: date | None = None
    exceptions: list[tuple[date, str]] = field(default_factory=list)
    # the day the due date counts from, when it is not the start (outcomes sustained: closure)
    due_from: date | None = None

    @property
    def running(self) -> bool:
        return self.stopped_on is None and self.closed_on is None

    def as_at(self, day: date) -> Span:
        """This occurrence as the record stood at the end of `day` (it must have started)."""
        return Span(
            self.clock,
            self.occurrence,
            self.started_on,
            self.stopped_on if self.stopped_on and self.stopped_on <= day else None,
            self.closed_on if self.closed_on and self.closed_on <= day else None,
            [(on, reason) for on, reason in self.exceptions if on <= day],
            self.due_from,
        )


@dataclass(frozen=True)
class ClockEntry:
    clock: ClockName
    occurrence: int
    started_on: date
    due_on: date
    stopped_on: date | None
    status: Status
    working_days_late: int
    exception: str | None


# Which facts start and stop which clocks. A review stops whichever review clock is running.
STARTS: dict[str, tuple[ClockName, ...]] = {
    "FamDecided": (C.FAM,),
    "FamHeld": (C.PLAN_CIRCULATION, C.FIRST_REVIEW),
    "SingleAgencyPlanAgreed": (C.FIRST_REVIEW,),
    "ReviewHeld": (C.NEXT_REVIEW,),
    "Gcp2Started": (C.GCP2,),
}
STOPS: dict[str, tuple[ClockName, ...]] = {
    "AssessmentFinalised": (C.ASSESSMENT,),
    "FamHeld": (C.FAM,),
    "PlanCirculated": (C.PLAN_CIRCULATION, C.MODIFIED_PLAN_CIRCULATION),
    "ReviewHeld": (C.FIRST_REVIEW, C.NEXT_REVIEW),
    "ChildSeen": (C.CHILD_SEEN,),
    "Gcp2Completed": (C.GCP2,),
    "PanelReviewed": (C.PANEL_REVIEW,),
    "SustainedCheckRecorded": (C.OUTCOMES_SUSTAINED,),
}
# Feedback at each point stops that point's clock.
FEEDBACK_CLOCKS: dict[str, ClockName] = {
    "during_assessment": C.FEEDBACK_ASSESSMENT,
    "third_review": C.FEEDBACK_THIRD_REVIEW,
    "closure": C.FEEDBACK_CLOSURE,
}
# Clocks that start when the episode closes and run on after it.
AFTER_CLOSURE: frozenset[ClockName] = frozenset({C.FEEDBACK_CLOSURE, C.OUTCOMES_SUSTAINED})


class _Walk:
    def __init__(self) -> None:
        self.spans: list[Span] = []
        # each clock's occurrences neither stopped nor closed (a long record stops and starts
        # the child-seen clock at every visit: found here, not by reading every span again)
        self.running: dict[ClockName, list[Span]] = {}
        self.counts: dict[ClockName, int] = {}
        self.consented = False
        self.skips_assessment = False
        self.reviews = 0
        self.feedback_points: set[str] = set()
        self.closed_on: date | None = None

    def start(self, clock: ClockName, on: date, due_from: date | None = None) -> None:
        count = self.counts[clock] = self.counts.get(clock, 0) + 1
        span = Span(clock, count, on, None, None, [], due_from)
        self.spans.append(span)
        running = self.running.get(clock)
        if running is None:
            self.running[clock] = [span]
        else:
            running.append(span)

    def stop(self, clock: ClockName, on: date) -> None:
        for span in self.running.pop(clock, ()):
            span.stopped_on = on

    def close(self, on: date) -> None:
        self.closed_on = on
        self.stop(C.LONG_RUNNING, on)
        for running in self.running.values():
            for span in running:
                span.closed_on = on
        self.running.clear()

    def except_(self, clock: ClockName, reason: str, on: date) -> None:
        started = [span for span in self.spans if span.clock is clock and span.started_on <= on]
        if started:
            started[-1].exceptions.append((on, reason))

    def take(self, fact: Fact) -> None:
        kind, on, details = fact.kind, fact.on, fact.details
        if kind == "Opened":
            self.skips_assessment = bool(details.get("skips_assessment"))
        elif kind == "ConsentRecorded" and details.get("first"):
            self.consented = True
            if not self.skips_assessment:
                self.start(C.ASSESSMENT, on)
            self.start(C.CHILD_SEEN, on)
            self.start(C.LONG_RUNNING, on)
            if not self.skips_assessment:
                self.start(C.FEEDBACK_ASSESSMENT, on)
        elif kind == "ExceptionRecorded":
            self.except_(ClockName(details["clock"]), str(details["reason"]), on)
        for clock in STOPS.get(kind, ()):
            self.stop(clock, on)
        for clock in STARTS.get(kind, ()):
            self.start(clock, on)
        if kind == "ChildSeen" and self.consented:
            self.start(C.CHILD_SEEN, on)
        if kind == "ReviewHeld" and details.get("plan_changed"):
            self.start(C.MODIFIED_PLAN_CIRCULATION, on)
        if kind == "ReviewHeld":
            self.reviews += 1
            if self.reviews == 3:
                self.start(C.FEEDBACK_THIRD_REVIEW, on)
        if kind == "PanelOutcomeRecorded" and details.get("allocated"):
            self.start(C.PANEL_REVIEW, on)
        if kind == "FeedbackRecorded":
            self.feedback_points.add(str(details["point"]))
            self.stop(FEEDBACK_CLOCKS[str(details["point"])], on)
        if kind == "OutcomesRecorded" and details.get("met"):
            # Supporting Families: a met outcome is checked six months after the closing
            self.start(C.OUTCOMES_SUSTAINED, on, due_from=self.closed_on or on)
        if details.get("closes"):
            self.close(on)
        if kind == "Closed" and self.consented:
            # feedback at closure: met at once if the family gave it before the closing
            self.start(C.FEEDBACK_CLOSURE, on)
            if "closure" in self.feedback_points:
                self.stop(C.FEEDBACK_CLOSURE, on)


def in_business_order(facts: Iterable[Fact]) -> list[Fact]:
    """By business date; facts on the same day keep the order they were recorded in."""
    return sorted(facts, key=lambda fact: fact.on)


def spans(facts: Iterable[Fact]) -> list[Span]:
    walk = _Walk()
    for fact in in_business_order(facts):
        walk.take(fact)
    return walk.spans


def _is_pre_birth(facts: Sequence[Fact]) -> bool:
    return any(fact.kind == "Opened" and fact.details.get("pre_birth") for fact in facts)


def schedule(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar, as_at: date
) -> list[ClockEntry]:
    """Every clock occurrence with its due date and its status as at `as_at`.

    Only facts dated on or before `as_at` count: facts after it start and stop only later
    occurrences, so the spans of the whole record, cut at `as_at`, are the spans of the record
    as it stood then.
    """
    return [
        entry(span.as_at(as_at), due, calendar, as_at)
        for span, due in due_dates(facts, policy, calendar)
        if span.started_on <= as_at
    ]


def due_dates(
    facts: Sequence[Fact], policy: Policy, calendar: WorkingCalendar
) -> list[tuple[Span, date]]:
    """Every clock occurrence of the whole record with its due date under `policy`."""
    pre_birth, roll_forward = _is_pre_birth(facts), policy.roll_forward
    timescales: dict[ClockName, Timescale | None] = {}  # (each clock's, looked up once)
    found = []
    for span in spans(facts):
        clock = span.clock
        if clock in timescales:
            timescale = timescales[clock]
        else:
            rule = policy.rule(clock)
            applies = rule.enabled and (rule.applies_pre_birth or not pre_birth)
            timescale = timescales[clock] = rule.timescale(pre_birth) if applies else None
        if timescale is not None:
            due = timescale.due_date(span.due_from or span.started_on, calendar, roll_forward)
            found.append((span, due))
    return found


def entry(span: Span, due: date, calendar: WorkingCalendar, as_at: date) -> ClockEntry:
    """The status of one occurrence as at `as_at` (give it the span as it stood then)."""
    if span.stopped_on is not None:
        status = Status.MET if span.stopped_on <= due else Status.LATE
        until = span.stopped_on
    elif span.closed_on is not None:
        status = Status.CANCELLED if span.closed_on <= due else Status.MISSED
        until = span.closed_on
    else:
        status = Status.PENDING if as_at <= due else Status.OVERDUE
        until = as_at
    return ClockEntry(
        clock=span.clock,
        occurrence=span.occurrence,
        started_on=span.started_on,
        due_on=due,
        stopped_on=span.stopped_on,
        status=status,
        working_days_late=calendar.working_days_after(due, until),
        exception=span.exceptions[-1][1] if span.exceptions else None,
    )
