"""Timeliness items proposed from the record, checked against dates worked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from aggregates.proposals import propose_a1, propose_closure, propose_r6, propose_r8
from aggregates.schemes import EXCEEDED, MET, NOT_MET, PARTIALLY_MET, Grade

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
    assert proposal.facts[0] == "1 of 2 reviews in time"
    assert "first_review #1 due 2022-09-20: held 2022-09-20, in time" in proposal.facts
    assert (
        "next_review #1 due 2022-12-20: late, 4 working days late, no reason recorded"
        in proposal.facts
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
