"""The family's feedback, the Level 2 Panel and Supporting Families' needs and outcomes, each
planned in the proportions assumed below."""

from __future__ import annotations

from datetime import date, timedelta

from aggregates.calendar import add_months
from aggregates.episode import Episode
from aggregates.feedback import STATEMENTS, Respondent
from aggregates.outcomes import Outcome
from ehqa.simulation.plan import Plan

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


def plan_feedback(plan: Plan, day: date, point: str, child_too: bool = False,
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


def plan_panel(plan: Plan, asked: date) -> None:
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


def plan_needs(plan: Plan, day: date) -> None:
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


def plan_outcomes(plan: Plan, closing: date, reason: str) -> None:
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
