"""A realistic caseload, written through the domain's own commands.

Each episode follows a scenario (on time, late assessment, drifting, missed reviews, stepped up,
stepped down, pre-birth, consent withheld or withdrawn) with dates drawn from a generator seeded
by the run's seed and the episode's number: the same seed gives the same data. Dates cross bank
holidays as real ones do. Episodes are saved in batches (each with its child's record), so a
large caseload is written quickly; every command still passes the lifecycle's guards.

A live service's log interleaves everyone's episodes, each event recorded about when it
happened. `interleaved=True` writes the log that way: every history is run first (so all are
held in memory), then their events are saved in business-date order across episodes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from aggregates.calendar import add_months
from aggregates.episode import ChildRecord, Episode, Origin
from aggregates.errors import DomainError
from aggregates.feedback import STATEMENTS, Respondent
from aggregates.outcomes import Outcome
from ehqa.application import EhqaApplication

AGENCIES = [
    "primary_school", "secondary_school", "health_visiting", "school_nursing", "midwifery",
    "early_help_team", "camhs", "youth_service",
]  # fmt: skip
FIRST = ["Jo", "Sam", "Ravi", "Ann", "Mia", "Tom", "Priya", "Lee", "Kate", "Omar", "Beth", "Dan"]
LAST = ["Bright", "Patel", "Kumar", "Cole", "Grant", "Hughes", "Shah", "Walsh", "Evans", "Ali"]
SCENARIOS: dict[str, int] = {
    "on_time": 34, "late_assessment": 14, "drifting": 10, "missed_reviews": 10, "stepped_up": 8,
    "step_down": 10, "pre_birth": 5, "consent_withheld": 5, "consent_withdrawn": 4,
}  # fmt: skip
LATE_REASONS = [
    "Family unavailable during school holidays", "Parent in hospital",
    "Partner agency could not attend", "Lead professional on long-term sick leave",
    "Family moved address",
]  # fmt: skip

Step = tuple[date, Callable[[Episode, date], None]]

# Family feedback, the Level 2 Panel: our assumptions, as no published figures exist.
# - Feedback is asked for where the policy asks for it (B&NES). During the assessment about 7 in
#   10 parents or carers and 4 in 10 children return a sheet; at the third review about half of
#   the families, at closure about 6 in 10 (half at the closing meeting, half in the following
#   fortnight). A sheet leaves about 1 statement in 10 blank; answers are mostly favourable
#   (agree 65%, partly 25%, disagree 10%).
# - About 1 episode in 8 with a finalised assessment goes to the Level 2 Panel, a few weeks on.
#   The panel answers within one to two weeks, allocating services 6 times in 10 (otherwise it
#   gives advice), and reviews 85% of its allocations around three months later (a week early
#   to three weeks late); the rest drift, which the panel-review clock shows.
FEEDBACK_POLICIES = ("bnes",)
RATINGS = (["agree"] * 13) + (["partly"] * 5) + (["disagree"] * 2)
PANEL_SERVICES = [
    ("Family support", "Home-Start"), ("Parenting programme", "Early Help team"),
    ("Youth work", "Youth service"), ("Emotional wellbeing support", "School nursing"),
]  # fmt: skip

# Supporting Families outcomes: again our assumptions, not published figures.
# - The family's needs are recorded for about 85 episodes in 100 on the day the assessment is
#   finalised (a step-down with a recent social-care assessment: when its plan is agreed). A
#   family has 1 to 5 needs (1 and 5 rarer than 2 to 4); family relationships, health, education
#   and domestic abuse are the commonest, substance use and crime the rarest. About 8 assessments
#   in 10 look at the whole family.
# - At closure, outcomes are recorded for 9 in 10 episodes closed with outcomes achieved (each
#   need met 8 times in 10) and for 3 in 10 of the other closures (each need met 3 times in 10),
#   at the closing or within ten days of it. A closure by withdrawn consent or by a step up
#   records none.
# - Where at least one outcome was met, about 85 in 100 are checked six months after the closing
#   (up to four weeks later), when that day is not after the simulation's end; each met outcome
#   is found sustained 85 times in 100.
# These draws come from a generator of their own per episode, so the other events of a seed are
#   the same as they were before Supporting Families was simulated.
NEEDS_WEIGHTS: dict[Outcome, int] = {
    Outcome.RELATIONSHIPS: 20, Outcome.HEALTH: 18, Outcome.EDUCATION: 16,
    Outcome.DOMESTIC_ABUSE: 10, Outcome.FINANCES: 9, Outcome.SAFE_FROM_ABUSE: 8,
    Outcome.EARLY_YEARS: 7, Outcome.HOUSING: 6, Outcome.SUBSTANCE_USE: 3, Outcome.CRIME: 3,
}  # fmt: skip
NEEDS_COUNT = {1: 15, 2: 25, 3: 25, 4: 20, 5: 15}  # how many needs a family has, per 100


@dataclass
class Report:
    episodes: int = 0
    events: int = 0
    refused: list[str] = field(default_factory=list)
    scenarios: dict[str, int] = field(default_factory=dict)


def leads(rng: random.Random) -> list[tuple[str, str]]:
    people = sorted({f"{f} {s}" for f in FIRST for s in LAST})
    rng.shuffle(people)
    return [(name, AGENCIES[n % len(AGENCIES)]) for n, name in enumerate(people[:40])]


class _Plan:
    """The dated steps of one episode, drawn from its own generator."""

    def __init__(self, rng: random.Random, start: date, end: date, lead: tuple[str, str],
                 scenario: str, others: list[tuple[str, str]]) -> None:  # fmt: skip
        self.rng, self.end, self.lead, self.scenario, self.others = rng, end, lead, scenario, others
        self.steps: list[Step] = []
        self.opened_on = start
        self.closed = False
        self.recent_assessment = scenario == "step_down" and rng.random() < 0.6
        self.policy = ""  # set once the episode is opened
        self.after_closure: list[Step] = []  # steps that may follow the closing (feedback)
        self.sf = random.Random(0)  # Supporting Families draws (set per episode by _history)
        self.needs: list[str] = []  # the needs planned to be recorded

    def at(self, day: date, step: Callable[[Episode, date], None]) -> bool:
        if self.closed or day > self.end:
            return False
        self.steps.append((day, step))
        return True

    def days(self, low: int, high: int) -> timedelta:
        return timedelta(days=self.rng.randint(low, high))

    def working(self, day: date, low: int, high: int) -> date:
        n, out = self.rng.randint(low, high), day
        while n:
            out += timedelta(days=1)
            if out.weekday() < 5:
                n -= 1
        return out


def _episode_plan(plan: _Plan) -> None:
    rng, s = plan.rng, plan.scenario
    day = plan.opened_on
    consent = day + plan.days(0, 4)
    agencies = sorted({plan.lead[1], *rng.sample(AGENCIES, rng.randint(0, 2))})
    if s == "consent_withheld":
        safeguarding = rng.random() < 0.3
        plan.at(consent, lambda e, t: e.withhold_consent(consent, t, safeguarding=safeguarding))
        if safeguarding:
            outcome = consent + plan.days(1, 5)
            level = rng.choice([2, 3, 4])
            plan.at(outcome, lambda e, t: e.record_mash_outcome(level, outcome, t))
        return
    plan.at(consent, lambda e, t: e.record_consent(agencies, consent, t))
    _visits(plan, consent)
    if not plan.recent_assessment:
        _feedback(plan, consent + plan.days(5, 25), "during_assessment", child_too=True)
    if rng.random() < 0.15:
        _gcp2(plan, consent + plan.days(3, 30))
    if s == "step_down":
        plan_day = consent + plan.days(1, 10)
        if not plan.recent_assessment:  # no recent social-care assessment: assess first
            assessed = plan.working(consent, 5, 18)
            plan.at(assessed, lambda e, t: e.finalise_assessment(assessed, t))
            _needs(plan, assessed)
            plan_day = assessed + plan.days(1, 7)
        plan.at(plan_day, lambda e, t: e.agree_single_agency_plan(plan_day, t))
        if plan.recent_assessment:
            _needs(plan, plan_day)
        _reviews(plan, plan_day, late=False)
        return
    late = s == "late_assessment"
    assessed = plan.working(consent, 21, 40) if late else plan.working(consent, 5, 19)
    if late and rng.random() < 0.5:
        why_on = plan.working(consent, 18, 20)
        reason = rng.choice(LATE_REASONS)
        plan.at(why_on, lambda e, t: e.record_exception("assessment", reason, why_on, t))
    if not plan.at(assessed, lambda e, t: e.finalise_assessment(assessed, t)):
        return
    _needs(plan, assessed)
    if rng.random() < 1 / 8:
        _panel(plan, assessed + plan.days(3, 30))
    if s == "stepped_up":
        up = assessed + plan.days(1, 40)
        level = rng.choice([3, 4])
        plan.at(up, lambda e, t: e.step_up(level, up, t))
        outcome = up + plan.days(1, 10)
        back = rng.choice([2, 2, 3, 4])
        plan.at(outcome, lambda e, t: e.record_mash_outcome(back, outcome, t))
        if back != 2:
            plan.closed = True
        return
    decided = assessed + plan.days(0, 6)
    plan.at(decided, lambda e, t: e.decide_fam(decided, t))
    held = plan.working(decided, 16, 25) if rng.random() < 0.2 else plan.working(decided, 4, 15)
    if not plan.at(held, lambda e, t: e.hold_fam(held, t)):
        return
    circulated = plan.working(held, 1, 14)
    plan.at(circulated, lambda e, t: e.circulate_plan(circulated, t))
    if s == "drifting":
        return
    _reviews(plan, held, late=s == "missed_reviews")


def _feedback(plan: _Plan, day: date, point: str, child_too: bool = False,
              after_closure: bool = False) -> None:  # fmt: skip
    """The family's sheets at one point, where the policy asks for them (see the assumptions)."""
    if plan.policy not in FEEDBACK_POLICIES:
        return
    rng = plan.rng
    chance = {"during_assessment": 0.7, "third_review": 0.5, "closure": 0.6}[point]
    who = [("parent_carer", chance), *([("child", 0.4)] if child_too else [])]
    for respondent, likely in who:
        if rng.random() >= likely:
            continue
        answers = {key: rng.choice(RATINGS) for key in STATEMENTS[Respondent(respondent)]
                   if rng.random() < 0.9}  # fmt: skip
        comments = None if answers and rng.random() < 0.7 else "Thank you for listening to us"

        def step(e: Episode, t: date, r: str = respondent, a: dict[str, str] = answers,
                 c: str | None = comments) -> None:  # fmt: skip
            e.record_feedback(r, point, a, day, t, comments=c)

        if after_closure:
            if day <= plan.end:
                plan.after_closure.append((day, step))
        else:
            plan.at(day, step)


def _panel(plan: _Plan, asked: date) -> None:
    rng = plan.rng
    asks = sorted(set(rng.sample(["advice", "services", "family_support"], rng.randint(1, 2))))
    plan.at(asked, lambda e, t: e.request_panel(asks, "Support to progress the plan", asked, t))
    answered = asked + plan.days(5, 14)
    if rng.random() >= 0.6:
        plan.at(answered, lambda e, t: e.record_panel_outcome("advice", [], answered, t))
        return
    services = [dict(zip(("service", "provider"), item, strict=True))
                for item in rng.sample(PANEL_SERVICES, rng.randint(1, 2))]  # fmt: skip
    plan.at(answered,
            lambda e, t: e.record_panel_outcome("services_allocated", services, answered, t))  # fmt: skip
    if rng.random() < 0.85:
        reviewed = answered + timedelta(days=91) + plan.days(-7, 21)
        further = rng.random() < 0.3
        plan.at(reviewed, lambda e, t: e.record_panel_review(further, reviewed, t))


def _needs(plan: _Plan, day: date) -> None:
    """The family's needs, identified at the assessment (see the assumptions)."""
    sf = plan.sf
    if sf.random() >= 0.85:
        return
    count = sf.choices(list(NEEDS_COUNT), weights=list(NEEDS_COUNT.values()))[0]
    found: set[str] = set()
    while len(found) < count:
        found.add(sf.choices(list(NEEDS_WEIGHTS), weights=list(NEEDS_WEIGHTS.values()))[0].value)
    needs, whole = sorted(found), sf.random() < 0.8
    if plan.at(day, lambda e, t: e.record_needs(needs, whole, day, t)):
        plan.needs = needs


def _outcomes(plan: _Plan, closing: date, reason: str) -> None:
    """Outcomes at the closing and the check six months on (see the assumptions)."""
    sf = plan.sf
    achieved = reason == "outcomes_achieved"
    if not plan.needs or sf.random() >= (0.9 if achieved else 0.3):
        return
    outcomes = {need: sf.random() < (0.8 if achieved else 0.3) for need in plan.needs}
    recorded = closing + timedelta(days=sf.randint(0, 10))
    if recorded > plan.end:
        return
    plan.after_closure.append((recorded, lambda e, t: e.record_outcomes(outcomes, recorded, t)))
    met = [need for need, ok in outcomes.items() if ok]
    if not met or sf.random() >= 0.85:
        return
    checked = add_months(closing, 6) + timedelta(days=sf.randint(0, 28))
    sustained = {need: sf.random() < 0.85 for need in met}
    if checked <= plan.end:
        plan.after_closure.append(
            (checked, lambda e, t: e.record_sustained_check(sustained, checked, t))
        )


def _visits(plan: _Plan, since: date) -> None:
    if plan.scenario == "pre_birth":
        return
    day = since
    gap = (30, 45) if plan.scenario in ("drifting", "missed_reviews") else (10, 27)
    while True:
        day = day + plan.days(*gap)
        if day > plan.end or (plan.scenario == "drifting" and day > since + timedelta(days=80)):
            return
        seen = day
        plan.steps.append((seen, lambda e, t, seen=seen: e.see_child(seen, t)))


def _gcp2(plan: _Plan, started: date) -> None:
    done = started + plan.days(10, 40)
    plan.at(started, lambda e, t: e.start_gcp2(started, t))
    plan.at(done, lambda e, t: e.complete_gcp2(done, t))


def _reviews(plan: _Plan, since: date, late: bool) -> None:
    rng = plan.rng
    review = since + (plan.days(35, 70) if late else plan.days(20, 31))
    for n in range(rng.randint(1, 5)):
        changed = rng.random() < 0.3
        if late and rng.random() < 0.4:
            why_on = review - plan.days(1, 10)
            reason = rng.choice(LATE_REASONS)
            clock = "first_review" if n == 0 else "next_review"
            plan.at(max(why_on, since), lambda e, t, d=max(why_on, since), c=clock, r=reason:
                    e.record_exception(c, r, d, t))  # fmt: skip
        if not plan.at(
            review, lambda e, t, d=review, c=changed: e.hold_review(d, t, plan_changed=c)
        ):
            return
        if n == 2:
            _feedback(plan, review + plan.days(0, 12), "third_review")
        if changed:
            sent = review + plan.days(3, 20)
            plan.at(sent, lambda e, t, d=sent: e.circulate_plan(d, t))
        if n == 1 and rng.random() < 0.1:
            name, agency = rng.choice([p for p in plan.others if p[0] != plan.lead[0]])
            moved = review + plan.days(1, 10)
            plan.at(moved, lambda e, t, d=moved, n=name, a=agency: e.change_lead(n, a, d, t))
        review = review + (plan.days(100, 150) if late else plan.days(40, 92))
    if plan.scenario == "consent_withdrawn":
        gone = review - plan.days(20, 30)
        plan.at(gone, lambda e, t: e.withdraw_consent(gone, t))
        plan.closed = True
        return
    closing = review - plan.days(0, 20)
    reason = "outcomes_achieved" if rng.random() < 0.8 else rng.choice(
        ["no_further_action", "transferred_out", "disengaged"])  # fmt: skip
    at_meeting = rng.random() < 0.5  # feedback at the closing meeting, or in the fortnight after
    if at_meeting:
        _feedback(plan, closing, "closure")
    if plan.at(
        closing, lambda e, t: e.close(reason, "Plan outcomes reviewed with the family", closing, t)
    ):
        _outcomes(plan, closing, reason)
    if not at_meeting and closing <= plan.end:
        _feedback(plan, closing + plan.days(1, 14), "closure", after_closure=True)


AUTHOR = "system:simulate"  # the author recorded on simulated facts


def simulate(
    app: EhqaApplication,
    episodes: int,
    seed: int,
    start: date,
    end: date,
    batch_size: int = 200,
    progress: Callable[[int], None] | None = None,
    interleaved: bool = False,
) -> Report:
    """Write `episodes` simulated histories opened between `start` and `end`."""
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    today = min(end, app.clock())
    people = leads(random.Random(seed))
    report = Report()
    pending: list[Any] = []
    dated: list[list[tuple[date, Any]]] = []
    for number in range(episodes):
        rng = random.Random(f"{seed}:{number}")
        episode, record, refused, scenario = _history(app, rng, number, seed, start, today, people)
        report.refused.extend(refused)
        report.episodes += 1
        report.events += episode.version
        report.scenarios[scenario] = report.scenarios.get(scenario, 0) + 1
        if interleaved:  # (progress counts histories run; the saving follows at the end)
            dated += _dated_events(episode, record)
            if progress and (number + 1) % batch_size == 0:
                progress(batch_size)
            continue
        pending += [episode, record]
        if len(pending) >= 2 * batch_size:
            app.save(*pending)
            pending = []
            if progress:
                progress(batch_size)
    if pending:
        app.save(*pending)
        if progress:
            progress(len(pending) // 2)
    if dated:
        in_order = [event for _, event in heapq.merge(*dated, key=lambda item: item[0])]
        for chunk in range(0, len(in_order), 10 * batch_size):
            app.save(*in_order[chunk : chunk + 10 * batch_size])
        if progress:
            progress(episodes % batch_size)
    return report


def _dated_events(episode: Episode, record: ChildRecord) -> list[list[tuple[date, Any]]]:
    """Each aggregate's pending events keyed by when they would have been recorded: on their
    business date, never before an earlier event of the same aggregate (the keys never fall)."""
    keyed, latest = [], date.min
    for event in episode.collect_events():
        latest = max(latest, event.on)  # type: ignore[attr-defined]
        keyed.append((latest, event))
    opened_on = keyed[0][0]
    child = record.collect_events()  # registered and opened with the episode, closed with it
    return [keyed, [(opened_on if n < 2 else latest, event) for n, event in enumerate(child)]]


def _history(app: EhqaApplication, rng: random.Random, number: int, seed: int, start: date,
             today: date, people: list[tuple[str, str]]) -> tuple[Episode, ChildRecord, list[str], str]:  # fmt: skip
    scenario = rng.choices(list(SCENARIOS), weights=list(SCENARIOS.values()))[0]
    span = max((today - start).days, 0)
    opened_on = start + timedelta(days=rng.randint(0, span))
    lead = rng.choice(people)
    if scenario == "pre_birth":
        lead = (lead[0], "midwifery")
    reference, child = f"SIM-{seed}-{number:06d}", f"SIM-C-{seed}-{number:06d}"
    step_down = scenario == "step_down"
    plan = _Plan(rng, opened_on, today, lead, scenario, people)
    episode = Episode.open(
        reference=reference, child=child, lead_name=lead[0], lead_agency=lead[1], on=opened_on,
        today=today, policy=rng.choice([app.default_policy] * 8 + ["bnes", "darlington"]),
        origin=Origin.STEP_DOWN if step_down else Origin.REFERRAL,
        pre_birth=scenario == "pre_birth",
        recent_social_care_assessment=plan.recent_assessment, author=AUTHOR,
    )  # fmt: skip
    episode.recorded_by(AUTHOR)
    record = ChildRecord(child, author=AUTHOR)
    record.recorded_by(AUTHOR)
    record.episode_opened(reference)
    plan.policy = episode.policy
    plan.sf = random.Random(f"{seed}:{number}:supporting-families")
    _episode_plan(plan)
    refused = []
    after = {id(step) for _, step in plan.after_closure}
    for day, step in sorted(plan.steps + plan.after_closure, key=lambda s: s[0]):
        if not episode.is_open and id(step) not in after:
            continue
        try:
            step(episode, today)
        except DomainError as error:
            refused.append(f"{reference} {day}: {error}")
    if not episode.is_open:
        record.episode_closed(reference)
    return episode, record, refused, scenario


def references(seed: int, episodes: int) -> Iterator[str]:
    return (f"SIM-{seed}-{number:06d}" for number in range(episodes))
