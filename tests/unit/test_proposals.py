"""Timeliness items proposed from the record, checked against dates worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from aggregates.proposals import propose_a1, propose_closure, propose_r6, propose_r8
from aggregates.schemes import EXCEEDED, MET, NOT_APPLICABLE, NOT_MET, PARTIALLY_MET, Grade

from .builders import CAL, TODAY, opened, policy

D = date


def consented_on_24_april_2023():  # type: ignore[no-untyped-def]
    episode = opened(on=D(2023, 4, 20))
    episode.record_consent(["school"], D(2023, 4, 24), TODAY)  # due 24 May: skips 1 and 8 May
    return episode


@pytest.mark.parametrize(
    ("finalised", "score"),
    [
        (D(2023, 5, 5), EXCEEDED),  # 8 working days (1 May is a bank holiday)
        (D(2023, 5, 24), MET),  # the 20th working day, after both May bank holidays
        (D(2023, 5, 25), PARTIALLY_MET),  # a day late
        (D(2023, 7, 2), PARTIALLY_MET),  # 69 days: inside 10 weeks
        (D(2023, 7, 3), NOT_MET),  # 70 days: 10 weeks
    ],
)
def test_a1_from_consent_to_the_finalised_assessment(finalised: date, score: int) -> None:
    episode = consented_on_24_april_2023()
    episode.finalise_assessment(finalised, TODAY)
    proposal = propose_a1(episode.facts, policy(), CAL, TODAY)
    assert proposal.score == score
    assert (
        "consent recorded 2023-04-24" in proposal.facts
        and "assessment due 2023-05-24" in proposal.facts
    )


def test_a1_for_an_assessment_still_not_finalised() -> None:
    episode = consented_on_24_april_2023()
    assert propose_a1(episode.facts, policy(), CAL, D(2023, 7, 3)).score == NOT_MET
    assert propose_a1(episode.facts, policy(), CAL, D(2023, 6, 1)).score is None


def reviewed_around_the_state_funeral(late_reason: str | None = None):  # type: ignore[no-untyped-def]
    episode = opened(on=D(2022, 8, 1))
    episode.record_consent(["school"], D(2022, 8, 2), TODAY)
    episode.finalise_assessment(D(2022, 8, 10), TODAY)
    episode.decide_fam(D(2022, 8, 11), TODAY)
    episode.hold_fam(D(2022, 8, 19), TODAY)  # first review due 19 Sep 2022 -> Tue 20 Sep
    episode.hold_review(D(2022, 9, 20), TODAY)  # in time thanks to the bank holiday
    if late_reason:
        episode.record_exception("next_review", late_reason, D(2022, 12, 19), TODAY)
    episode.hold_review(D(2022, 12, 28), TODAY)  # due 20 Dec; 21, 22, 23, 28 Dec: 4 days late
    return episode


def test_r6_one_review_late_without_a_reason_is_a_gap() -> None:
    proposal = propose_r6(reviewed_around_the_state_funeral().facts, policy(), CAL, D(2023, 1, 5))
    assert proposal.score == PARTIALLY_MET
    assert proposal.facts[0] == (
        "2 review intervals: 1 in time, 0 late with the reason recorded, 1 late, 0 missed"
    )
    assert "interval 1 (first_review) due 2022-09-20: held 2022-09-20, in time" in proposal.facts
    assert (
        "interval 2 (next_review) due 2022-12-20: held 2022-12-28, late, 4 working days late,"
        " no reason recorded" in proposal.facts
    )


def test_r6_every_review_in_time_or_late_with_a_reason_is_exceeded() -> None:
    episode = reviewed_around_the_state_funeral("Family away at Christmas")
    assert propose_r6(episode.facts, policy(), CAL, D(2023, 1, 5)).score == EXCEEDED


def test_r6_most_reviews_in_time_is_met_and_consistently_late_is_not_met() -> None:
    episode = reviewed_around_the_state_funeral()
    episode.hold_review(D(2023, 3, 28), TODAY)  # due 28 Mar 2023: in time (2 of 3)
    assert propose_r6(episode.facts, policy(), CAL, D(2023, 4, 1)).score == MET
    late = reviewed_around_the_state_funeral()
    assert propose_r6(late.facts, policy(), CAL, D(2023, 6, 1)).score == NOT_MET  # 2 of 3 late


def test_r8_and_the_closure_section() -> None:
    assert propose_r8(opened().facts).score == NOT_MET
    episode = reviewed_around_the_state_funeral()
    assert propose_r8(episode.facts).score == MET
    assert propose_closure(episode.facts, None, None).grade is None
    episode.close("outcomes_achieved", "Attendance restored", D(2023, 1, 10), TODAY)
    assert (
        propose_closure(episode.facts, "outcomes_achieved", "Attendance restored").grade
        == Grade.GOOD
    )
    withdrawn = opened()
    withdrawn.withdraw_consent(D(2024, 1, 5), TODAY)
    assert (
        propose_closure(withdrawn.facts, "consent_withdrawn", None).grade
        == Grade.REQUIRES_IMPROVEMENT
    )


# ---- R6 counts the review intervals that passed without a review ----------------------------------


def fam_held_on_10_march_2023():  # type: ignore[no-untyped-def]
    episode = opened(on=D(2023, 2, 20))
    episode.record_consent(["school"], D(2023, 2, 21), TODAY)
    episode.finalise_assessment(D(2023, 3, 1), TODAY)
    episode.decide_fam(D(2023, 3, 2), TODAY)
    # first review due 10 Apr 2023, Easter Monday -> Tue 11 Apr
    episode.hold_fam(D(2023, 3, 10), TODAY)
    return episode


def test_r6_with_no_review_at_all_counts_every_interval_missed_and_is_not_met() -> None:
    episode = fam_held_on_10_march_2023()
    pending = propose_r6(episode.facts, policy(), CAL, D(2023, 4, 11))  # Easter: not due yet
    assert pending.score is None
    one_day_over = propose_r6(episode.facts, policy(), CAL, D(2023, 4, 12))
    assert one_day_over.score == NOT_MET  # was proposed 1 (a single late clock) before
    assert "interval 1 (first_review) due 2023-04-11: missed, no review held" in one_day_over.facts
    # 14 months after the FAM: owed 11 Apr 2023, then 3-monthly from each missed due date:
    # Tue 11 Jul 2023, Wed 11 Oct 2023, Thu 11 Jan 2024, Thu 11 Apr 2024 (11 Jul 2024 not yet)
    proposal = propose_r6(episode.facts, policy(), CAL, D(2024, 5, 10))
    assert proposal.score == NOT_MET
    assert proposal.facts[0] == (
        "5 review intervals: 0 in time, 0 late with the reason recorded, 0 late, 5 missed"
    )
    assert proposal.facts[1:] == (
        "interval 1 (first_review) due 2023-04-11: missed, no review held",
        "interval 2 (next_review) due 2023-07-11: missed, no review held",
        "interval 3 (next_review) due 2023-10-11: missed, no review held",
        "interval 4 (next_review) due 2024-01-11: missed, no review held",
        "interval 5 (next_review) due 2024-04-11: missed, no review held",
        "no review has been held since the plan began",
    )


def test_r6_never_reviewed_is_no_better_than_three_reviews_all_late() -> None:
    episode = fam_held_on_10_march_2023()
    episode.hold_review(D(2023, 4, 12), TODAY)  # due 11 Apr: 1 working day late
    episode.hold_review(D(2023, 7, 13), TODAY)  # due 12 Jul: 1 late
    episode.hold_review(D(2023, 10, 16), TODAY)  # due 13 Oct (Fri): Mon 16 Oct, 1 late
    late = propose_r6(episode.facts, policy(), CAL, D(2024, 1, 10))  # next due 16 Jan 2024
    assert late.score == NOT_MET
    assert (
        late.facts[0]
        == "3 review intervals: 0 in time, 0 late with the reason recorded, 3 late, 0 missed"
    )
    never = propose_r6(fam_held_on_10_march_2023().facts, policy(), CAL, D(2024, 1, 10))
    assert never.score == NOT_MET and never.score <= late.score  # type: ignore[operator]


def fam_held_before_easter_2023():  # type: ignore[no-untyped-def]
    episode = opened(on=D(2023, 3, 1))
    episode.record_consent(["school"], D(2023, 3, 2), TODAY)
    episode.finalise_assessment(D(2023, 3, 20), TODAY)
    episode.decide_fam(D(2023, 3, 21), TODAY)
    # Thu 6 Apr 2023, the day before Good Friday: the first review is due 6 May (a Saturday),
    # rolled past Sun 7 May and the coronation bank holiday (Mon 8 May) to Tue 9 May
    episode.hold_fam(D(2023, 4, 6), TODAY)
    episode.hold_review(D(2023, 5, 9), TODAY)  # in time; the next is due Wed 9 Aug 2023
    return episode


def test_r6_one_missed_interval_of_three_is_met() -> None:
    episode = fam_held_before_easter_2023()
    episode.hold_review(D(2023, 8, 9), TODAY)  # in time; the next is due Thu 9 Nov 2023
    proposal = propose_r6(episode.facts, policy(), CAL, D(2023, 11, 20))
    assert proposal.facts == (
        "3 review intervals: 2 in time, 0 late with the reason recorded, 0 late, 1 missed",
        "interval 1 (first_review) due 2023-05-09: held 2023-05-09, in time",
        "interval 2 (next_review) due 2023-08-09: held 2023-08-09, in time",
        "interval 3 (next_review) due 2023-11-09: missed, no review held",
    )
    assert proposal.score == MET  # most intervals in time


def test_r6_a_review_held_after_a_whole_further_interval_is_late_and_one_missed() -> None:
    episode = fam_held_before_easter_2023()
    # due 9 Aug 2023; a review was owed again by 9 Nov 2023; held Mon 20 Nov 2023:
    # 10 Aug-20 Nov is 73 weekdays less the August bank holiday (28 Aug): 72 working days late
    episode.hold_review(D(2023, 11, 20), TODAY)
    proposal = propose_r6(episode.facts, policy(), CAL, D(2023, 11, 30))
    assert proposal.facts[1:] == (
        "interval 1 (first_review) due 2023-05-09: held 2023-05-09, in time",
        "interval 2 (next_review) due 2023-08-09: held 2023-11-20, late, 72 working days late,"
        " no reason recorded",
        "interval 3 (next_review) due 2023-11-09: missed, no review held",
    )
    assert proposal.score == NOT_MET  # two gaps of three (one late clock before this change)


def test_r6_late_with_a_recorded_reason_still_counts_late_but_grades_better() -> None:
    episode = fam_held_before_easter_2023()
    episode.record_exception("next_review", "Parent in hospital", D(2023, 8, 14), TODAY)
    # due Wed 9 Aug 2023; held Wed 16 Aug: 10, 11, 14, 15, 16 Aug: 5 working days late
    episode.hold_review(D(2023, 8, 16), TODAY)
    proposal = propose_r6(episode.facts, policy(), CAL, D(2023, 9, 1))
    assert proposal.facts == (
        "2 review intervals: 1 in time, 1 late with the reason recorded, 0 late, 0 missed",
        "interval 1 (first_review) due 2023-05-09: held 2023-05-09, in time",
        "interval 2 (next_review) due 2023-08-09: held 2023-08-16, late, 5 working days late,"
        " reason recorded (Parent in hospital)",
    )
    assert proposal.score == EXCEEDED
    no_reason = fam_held_before_easter_2023()
    no_reason.hold_review(D(2023, 8, 16), TODAY)
    assert propose_r6(no_reason.facts, policy(), CAL, D(2023, 9, 1)).score == PARTIALLY_MET


def test_r6_counts_intervals_missed_up_to_the_closure_only() -> None:
    episode = fam_held_on_10_march_2023()
    episode.close("outcomes_achieved", "Attendance restored", D(2023, 7, 12), TODAY)
    proposal = propose_r6(episode.facts, policy(), CAL, D(2024, 5, 10))
    # owed 11 Apr and 11 Jul 2023, both passed before the closure on 12 Jul
    assert (
        proposal.facts[0]
        == "2 review intervals: 0 in time, 0 late with the reason recorded, 0 late, 2 missed"
    )


# ---- R8 does not apply to a single-agency plan -----------------------------------------------------


def single_agency_plan_before_easter_2024(**options: object):  # type: ignore[no-untyped-def]
    episode = opened(on=D(2024, 3, 1), **options)
    episode.record_consent(["school"], D(2024, 3, 4), TODAY)
    if not options:
        episode.finalise_assessment(D(2024, 3, 25), TODAY)
    # Thu 28 Mar 2024, the day before Good Friday: first review due Sun 28 Apr -> Mon 29 Apr
    episode.agree_single_agency_plan(D(2024, 3, 28), TODAY)
    # Tue 7 May, after the early May bank holiday (Mon 6 May): 30 Apr, 1, 2, 3, 7 May late
    episode.hold_review(D(2024, 5, 7), TODAY)
    return episode


@pytest.mark.parametrize(
    "options", [{}, {"origin": "step_down", "recent_social_care_assessment": True}]
)
def test_r8_is_not_applicable_to_a_single_agency_plan(options: dict[str, object]) -> None:
    episode = single_agency_plan_before_easter_2024(**options)
    proposal = propose_r8(episode.facts)
    assert proposal.score == NOT_APPLICABLE == "n/a"
    assert proposal.facts == (
        "single-agency plan agreed 2024-03-28: no Family Action Meeting by design, so R8 does not apply",
        "1 review(s) held: 2024-05-07",
    )
    r6 = propose_r6(episode.facts, policy(), CAL, D(2024, 5, 10))
    assert r6.facts[1] == (
        "interval 1 (first_review) due 2024-04-29: held 2024-05-07, late, 5 working days late,"
        " no reason recorded"
    )
    assert r6.score == PARTIALLY_MET  # one gap
