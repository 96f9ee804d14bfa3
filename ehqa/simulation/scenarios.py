"""The scenarios an episode follows (on time, late assessment, drifting, missed reviews, stepped
up, stepped down, pre-birth, consent withheld or withdrawn), with its visits and reviews."""

from __future__ import annotations

from datetime import date, timedelta

from ehqa.simulation.family import plan_feedback, plan_needs, plan_outcomes, plan_panel
from ehqa.simulation.plan import Plan

AGENCIES = [
    "primary_school", "secondary_school", "health_visiting", "school_nursing", "midwifery",
    "early_help_team", "camhs", "youth_service",
]  # fmt: skip
SCENARIOS: dict[str, int] = {
    "on_time": 34, "late_assessment": 14, "drifting": 10, "missed_reviews": 10, "stepped_up": 8,
    "step_down": 10, "pre_birth": 5, "consent_withheld": 5, "consent_withdrawn": 4,
}  # fmt: skip
LATE_REASONS = [
    "Family unavailable during school holidays", "Parent in hospital",
    "Partner agency could not attend", "Lead professional on long-term sick leave",
    "Family moved address",
]  # fmt: skip


def plan_episode(plan: Plan) -> None:
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
    plan_visits(plan, consent)
    if not plan.recent_assessment:
        plan_feedback(plan, consent + plan.days(5, 25), "during_assessment", child_too=True)
    if rng.random() < 0.15:
        plan_gcp2(plan, consent + plan.days(3, 30))
    if s == "step_down":
        plan_day = consent + plan.days(1, 10)
        if not plan.recent_assessment:  # no recent social-care assessment: assess first
            assessed = plan.working(consent, 5, 18)
            plan.at(assessed, lambda e, t: e.finalise_assessment(assessed, t))
            plan_needs(plan, assessed)
            plan_day = assessed + plan.days(1, 7)
        plan.at(plan_day, lambda e, t: e.agree_single_agency_plan(plan_day, t))
        if plan.recent_assessment:
            plan_needs(plan, plan_day)
        plan_reviews(plan, plan_day, late=False)
        return
    late = s == "late_assessment"
    assessed = plan.working(consent, 21, 40) if late else plan.working(consent, 5, 19)
    if late and rng.random() < 0.5:
        why_on = plan.working(consent, 18, 20)
        reason = rng.choice(LATE_REASONS)
        plan.at(why_on, lambda e, t: e.record_exception("assessment", reason, why_on, t))
    if not plan.at(assessed, lambda e, t: e.finalise_assessment(assessed, t)):
        return
    plan_needs(plan, assessed)
    if rng.random() < 1 / 8:
        plan_panel(plan, assessed + plan.days(3, 30))
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
    plan_reviews(plan, held, late=s == "missed_reviews")


def plan_visits(plan: Plan, since: date) -> None:
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


def plan_gcp2(plan: Plan, started: date) -> None:
    done = started + plan.days(10, 40)
    plan.at(started, lambda e, t: e.start_gcp2(started, t))
    plan.at(done, lambda e, t: e.complete_gcp2(done, t))


def plan_reviews(plan: Plan, since: date, late: bool) -> None:
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
            plan_feedback(plan, review + plan.days(0, 12), "third_review")
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
        plan_feedback(plan, closing, "closure")
    if plan.at(
        closing, lambda e, t: e.close(reason, "Plan outcomes reviewed with the family", closing, t)
    ):
        plan_outcomes(plan, closing, reason)
    if not at_meeting and closing <= plan.end:
        plan_feedback(plan, closing + plan.days(1, 14), "closure", after_closure=True)
