"""Every clock and every status, with dates worked by hand (see the comments)."""

from datetime import date

from aggregates.clocks import Status, schedule
from aggregates.policy import ClockName

from .builders import CAL, TODAY, clock, clocks, consented, opened, policy, with_fam

D = date


def test_assessment_is_due_20_working_days_after_consent_and_met_on_its_due_date() -> None:
    episode = consented(on=D(2024, 1, 3))  # day 0; day 20 is Wed 31 Jan
    episode.finalise_assessment(D(2024, 1, 31), TODAY)
    entry = clock(episode, "assessment")
    assert (entry.started_on, entry.due_on, entry.stopped_on) == (
        D(2024, 1, 3),
        D(2024, 1, 31),
        D(2024, 1, 31),
    )
    assert (entry.status, entry.working_days_late) == (Status.MET, 0)


def test_an_assessment_finalised_after_its_due_date_is_late_by_working_days() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.finalise_assessment(D(2024, 2, 5), TODAY)  # Thu 1, Fri 2, Mon 5 Feb
    entry = clock(episode, "assessment")
    assert (entry.status, entry.working_days_late) == (Status.LATE, 3)


def test_the_assessment_clock_crosses_the_coronation_and_early_may_bank_holidays() -> None:
    episode = opened(on=D(2023, 4, 20))
    episode.record_consent(["school"], D(2023, 4, 24), TODAY)  # 1 and 8 May 2023 are holidays
    episode.finalise_assessment(D(2023, 5, 25), TODAY)
    entry = clock(episode, "assessment")
    assert entry.due_on == D(2023, 5, 24)
    assert (entry.status, entry.working_days_late) == (Status.LATE, 1)


def test_the_assessment_clock_crosses_the_state_funeral() -> None:
    episode = opened(on=D(2022, 9, 1))
    # 20 working days from Fri 2 Sep 2022, skipping Mon 19 Sep: due Mon 3 Oct
    episode.record_consent(["school"], D(2022, 9, 2), TODAY)
    assert clock(episode, "assessment").due_on == D(2022, 10, 3)


def test_a_running_clock_is_pending_up_to_its_due_date_and_overdue_after() -> None:
    episode = consented(on=D(2024, 1, 3))
    assert clock(episode, "assessment", as_at=D(2024, 1, 31)).status is Status.PENDING
    overdue = clock(episode, "assessment", as_at=D(2024, 2, 1))
    assert (overdue.status, overdue.working_days_late) == (Status.OVERDUE, 1)
    # Saturday 3 Feb adds no working day
    assert clock(episode, "assessment", as_at=D(2024, 2, 3)).working_days_late == 2


def test_status_as_at_a_date_ignores_events_dated_after_it() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.finalise_assessment(D(2024, 2, 5), TODAY)
    then = clock(episode, "assessment", as_at=D(2024, 2, 1))
    assert (then.status, then.stopped_on, then.working_days_late) == (Status.OVERDUE, None, 1)
    assert [e.clock for e in clocks(consented(), as_at=D(2024, 1, 2))] == []


def test_the_pre_birth_assessment_has_45_days_rolled_to_a_working_day() -> None:
    episode = consented(on=D(2024, 1, 3), pre_birth=True)
    # 3 Jan + 45 days = Sat 17 Feb -> Mon 19 Feb
    assert clock(episode, "assessment").due_on == D(2024, 2, 19)


def test_a_pre_birth_episode_has_no_child_seen_clock() -> None:
    episode = consented(pre_birth=True)
    assert ClockName.CHILD_SEEN not in {e.clock for e in clocks(episode)}


def test_a_step_down_with_a_recent_assessment_has_no_assessment_clock() -> None:
    episode = opened(origin="step_down", recent_social_care_assessment=True)
    episode.record_consent(["early_help_team"], D(2024, 1, 3), TODAY)
    assert ClockName.ASSESSMENT not in {e.clock for e in clocks(episode)}


def test_the_fam_is_due_15_working_days_after_the_decision() -> None:
    episode = with_fam(decided=D(2024, 1, 10), held=D(2024, 1, 31))
    entry = clock(episode, "fam")
    assert (entry.started_on, entry.due_on, entry.status) == (
        D(2024, 1, 10),
        D(2024, 1, 31),
        Status.MET,
    )


def test_the_plan_is_circulated_within_10_working_days_of_the_fam() -> None:
    episode = with_fam(held=D(2024, 1, 31))
    episode.circulate_plan(D(2024, 2, 15), TODAY)
    entry = clock(episode, "plan_circulation")
    assert (entry.due_on, entry.status, entry.working_days_late) == (D(2024, 2, 14), Status.LATE, 1)


def test_the_first_review_is_due_a_month_after_the_fam_clamped_to_month_end() -> None:
    episode = with_fam(held=D(2024, 1, 31))  # 31 Jan + 1 month = 29 Feb 2024
    episode.hold_review(D(2024, 2, 29), TODAY)
    entry = clock(episode, "first_review")
    assert (entry.due_on, entry.status) == (D(2024, 2, 29), Status.MET)


def test_each_review_starts_the_next_three_month_review_clock() -> None:
    episode = with_fam(held=D(2024, 1, 31))
    episode.hold_review(D(2024, 2, 29), TODAY)
    episode.hold_review(D(2024, 6, 10), TODAY)  # due 29 May: 30, 31 May, 3-7 Jun, 10 Jun
    first = clock(episode, "next_review", 1)
    second = clock(episode, "next_review", 2, as_at=D(2024, 9, 10))
    assert (first.due_on, first.stopped_on, first.status) == (
        D(2024, 5, 29),
        D(2024, 6, 10),
        Status.LATE,
    )
    assert first.working_days_late == 8
    assert (second.started_on, second.due_on, second.status) == (
        D(2024, 6, 10),
        D(2024, 9, 10),
        Status.PENDING,
    )


def test_a_plan_changed_at_review_is_circulated_within_15_days() -> None:
    episode = with_fam(held=D(2024, 1, 31))
    episode.circulate_plan(D(2024, 2, 1), TODAY)
    episode.hold_review(D(2024, 2, 29), TODAY, plan_changed=True)  # due Fri 15 Mar
    episode.circulate_plan(D(2024, 3, 18), TODAY)
    entry = clock(episode, "modified_plan_circulation")
    assert (entry.due_on, entry.status, entry.working_days_late) == (D(2024, 3, 15), Status.LATE, 1)
    assert clock(episode, "plan_circulation").stopped_on == D(2024, 2, 1)


def test_a_single_agency_plan_is_first_reviewed_within_a_month() -> None:
    episode = consented()
    episode.finalise_assessment(D(2024, 1, 9), TODAY)
    episode.agree_single_agency_plan(D(2024, 1, 10), TODAY)
    assert clock(episode, "first_review").due_on == D(2024, 2, 12)  # Sat 10 Feb -> Mon 12
    assert ClockName.PLAN_CIRCULATION not in {e.clock for e in clocks(episode)}


def test_bnes_gives_the_first_review_12_weeks() -> None:
    episode = consented(policy="bnes")
    episode.finalise_assessment(D(2024, 1, 9), TODAY)
    episode.agree_single_agency_plan(D(2024, 1, 10), TODAY)
    assert clock(episode, "first_review").due_on == D(2024, 4, 3)


def test_the_child_is_seen_every_28_days_each_visit_starting_a_new_clock() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.see_child(D(2024, 1, 20), TODAY)
    first, second = clock(episode, "child_seen", 1), clock(episode, "child_seen", 2)
    assert (first.due_on, first.status) == (D(2024, 1, 31), Status.MET)
    assert (second.started_on, second.due_on) == (
        D(2024, 1, 20),
        D(2024, 2, 19),
    )  # Sat 17 -> Mon 19


def test_a_child_seen_before_consent_does_not_start_a_clock() -> None:
    episode = opened(on=D(2024, 1, 2))
    episode.see_child(D(2024, 1, 2), TODAY)
    episode.record_consent(["school"], D(2024, 1, 3), TODAY)
    seen = [e for e in clocks(episode) if e.clock is ClockName.CHILD_SEEN]
    assert [e.started_on for e in seen] == [D(2024, 1, 3)]


def test_a_visit_recorded_late_with_an_earlier_date_takes_its_place_in_business_order() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.see_child(D(2024, 2, 20), TODAY)
    episode.see_child(D(2024, 1, 25), TODAY)  # recorded afterwards, happened before
    seen = [
        (e.started_on, e.stopped_on) for e in clocks(episode) if e.clock is ClockName.CHILD_SEEN
    ]
    assert seen == [
        (D(2024, 1, 3), D(2024, 1, 25)),
        (D(2024, 1, 25), D(2024, 2, 20)),
        (D(2024, 2, 20), None),
    ]


def test_a_gcp2_is_completed_within_30_days() -> None:
    episode = consented()
    episode.start_gcp2(D(2024, 1, 5), TODAY)  # + 30 = Sun 4 Feb -> Mon 5 Feb
    episode.complete_gcp2(D(2024, 2, 5), TODAY)
    entry = clock(episode, "gcp2")
    assert (entry.due_on, entry.status) == (D(2024, 2, 5), Status.MET)


def test_an_episode_open_beyond_six_months_is_long_running_until_closed() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.close("outcomes_achieved", "done", D(2024, 7, 10), TODAY)  # due 3 Jul: 4, 5, 8, 9, 10
    entry = clock(episode, "long_running")
    assert (entry.due_on, entry.stopped_on, entry.status) == (
        D(2024, 7, 3),
        D(2024, 7, 10),
        Status.LATE,
    )
    assert entry.working_days_late == 5


def test_closing_before_a_due_date_cancels_the_running_clocks() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.close("transferred_out", "Moved to Wigan", D(2024, 1, 20), TODAY)
    entry = clock(episode, "assessment")
    assert (entry.status, entry.stopped_on, entry.working_days_late) == (Status.CANCELLED, None, 0)
    assert clock(episode, "long_running").status is Status.MET


def test_closing_after_a_due_date_with_the_clock_running_misses_it() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.close("disengaged", "No contact", D(2024, 2, 5), TODAY)
    entry = clock(episode, "assessment")
    assert (entry.status, entry.working_days_late) == (Status.MISSED, 3)


def test_a_step_up_accepted_by_mash_closes_the_clocks_too() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.step_up(4, D(2024, 1, 10), TODAY)
    episode.record_mash_outcome(4, D(2024, 1, 11), TODAY)
    assert clock(episode, "assessment").status is Status.CANCELLED


def test_an_exception_stays_on_the_clock_it_explains_and_the_step_still_counts_late() -> None:
    episode = consented()
    episode.finalise_assessment(D(2024, 1, 9), TODAY)
    episode.decide_fam(D(2024, 1, 10), TODAY)
    episode.record_exception("fam", "Parent in hospital", D(2024, 1, 29), TODAY)
    episode.hold_fam(D(2024, 2, 2), TODAY)
    entry = clock(episode, "fam")
    assert (entry.status, entry.working_days_late, entry.exception) == (
        Status.LATE,
        2,
        "Parent in hospital",
    )
    assert clock(episode, "assessment").exception is None


def test_a_policy_can_switch_off_rolling_due_dates_forward() -> None:
    episode = consented(on=D(2024, 1, 3), pre_birth=True)
    flat = policy().model_copy(update={"roll_forward": False})
    entry = next(
        e for e in schedule(episode.facts, flat, CAL, TODAY) if e.clock is ClockName.ASSESSMENT
    )
    assert entry.due_on == D(2024, 2, 17)


def test_a_disabled_clock_is_not_scheduled() -> None:
    episode = consented()
    base = policy()
    rules = dict(base.clocks)
    rules[ClockName.CHILD_SEEN] = rules[ClockName.CHILD_SEEN].model_copy(update={"enabled": False})
    quiet = base.model_copy(update={"clocks": rules})
    assert ClockName.CHILD_SEEN not in {e.clock for e in schedule(episode.facts, quiet, CAL, TODAY)}


# ---- the st-helens-2022 preset: 30 calendar days rolled to a working day (45 pre-birth) --------


def consented_2022(on: date, pre_birth: bool = False):  # type: ignore[no-untyped-def]
    episode = opened(on=on, policy="st-helens-2022", pre_birth=pre_birth)
    episode.record_consent(["school"], on, TODAY)
    return episode


def test_the_2022_assessment_is_due_30_calendar_days_after_consent() -> None:
    # 3 Jan 2024 + 30 days = Fri 2 Feb 2024, a working day (20 working days would be Wed 31 Jan)
    assert clock(consented_2022(D(2024, 1, 3)), "assessment").due_on == D(2024, 2, 2)
    assert clock(consented(on=D(2024, 1, 3)), "assessment").due_on == D(2024, 1, 31)


def test_the_2022_assessment_rolls_past_the_coronation_weekend() -> None:
    # Thu 6 Apr 2023 + 30 days = Sat 6 May; Sun 7 May; Mon 8 May is the coronation bank holiday:
    # due Tue 9 May 2023
    episode = consented_2022(D(2023, 4, 6))
    assert clock(episode, "assessment").due_on == D(2023, 5, 9)
    assert clock(episode, "assessment", as_at=D(2023, 5, 9)).status is Status.PENDING
    episode.finalise_assessment(D(2023, 5, 10), TODAY)
    late = clock(episode, "assessment")
    assert (late.status, late.working_days_late) == (Status.LATE, 1)


def test_the_2022_assessment_rolls_past_easter() -> None:
    # Wed 8 Mar 2023 + 30 days = Good Friday 7 Apr; Sat, Sun, Easter Monday 10 Apr: Tue 11 Apr
    episode = consented_2022(D(2023, 3, 8))
    episode.finalise_assessment(D(2023, 4, 11), TODAY)
    met = clock(episode, "assessment")
    assert (met.due_on, met.status, met.working_days_late) == (D(2023, 4, 11), Status.MET, 0)


def test_the_2022_pre_birth_assessment_has_45_days_rolled_past_the_coronation() -> None:
    # Wed 22 Mar 2023 + 45 days = Sat 6 May 2023 -> Tue 9 May (8 May was the coronation)
    episode = consented_2022(D(2023, 3, 22), pre_birth=True)
    assert clock(episode, "assessment").due_on == D(2023, 5, 9)
    # the same consent without pre-birth: + 30 days = Fri 21 Apr 2023, a working day
    assert clock(consented_2022(D(2023, 3, 22)), "assessment").due_on == D(2023, 4, 21)
