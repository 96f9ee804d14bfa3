"""Supporting Families outcomes: needs at assessment, outcomes at closure and the six-month
sustained check, with its clock's dates worked by hand in the comments."""

from datetime import date

import pytest

from aggregates.clocks import Status
from aggregates.episode import Episode
from aggregates.errors import DomainError, InvalidCommandError

from .builders import TODAY, clock, clocks, consented, opened

D = date


def closed_with_needs(closed: date = D(2024, 8, 31)) -> Episode:
    episode = consented(on=D(2024, 1, 3), policy="bnes")
    episode.record_needs(["housing", "education", "health"], True, D(2024, 1, 9), TODAY)
    episode.finalise_assessment(D(2024, 1, 9), TODAY)
    episode.agree_single_agency_plan(D(2024, 1, 10), TODAY)
    episode.close("outcomes_achieved", "Settled", closed, TODAY)
    return episode


def test_needs_are_refused_before_consent_and_must_be_headline_outcomes() -> None:
    episode = opened(policy="bnes")
    with pytest.raises(InvalidCommandError, match="has not given consent"):
        episode.record_needs(["housing"], False, D(2024, 1, 3), TODAY)
    episode.record_consent(["primary_school"], D(2024, 1, 3), TODAY)
    with pytest.raises(InvalidCommandError, match="at least one need"):
        episode.record_needs([], False, D(2024, 1, 3), TODAY)
    with pytest.raises(InvalidCommandError, match="unknown headline outcome 'wellbeing'"):
        episode.record_needs(["wellbeing"], False, D(2024, 1, 3), TODAY)
    episode.record_needs(["housing", "crime", "housing"], True, D(2024, 1, 4), TODAY)
    assert episode.needs == ["crime", "housing"] and episode.whole_family_assessment


def test_outcomes_only_at_or_after_closure_and_only_for_identified_needs() -> None:
    episode = consented(on=D(2024, 1, 3), policy="bnes")
    episode.record_needs(["housing", "education"], True, D(2024, 1, 9), TODAY)
    with pytest.raises(DomainError, match="a closed episode"):
        episode.record_outcomes({"housing": True, "education": True}, D(2024, 3, 1), TODAY)
    episode.close("outcomes_achieved", "Settled", D(2024, 8, 31), TODAY)
    with pytest.raises(InvalidCommandError, match="crime: not a need identified"):
        episode.record_outcomes(
            {"housing": True, "education": True, "crime": True}, D(2024, 8, 31), TODAY
        )
    with pytest.raises(InvalidCommandError, match="missing: education"):
        episode.record_outcomes({"housing": True}, D(2024, 8, 31), TODAY)
    with pytest.raises(DomainError, match="before the episode was closed"):
        episode.record_outcomes({"housing": True, "education": False}, D(2024, 8, 30), TODAY)
    episode.record_outcomes({"housing": True, "education": False}, D(2024, 8, 31), TODAY)
    with pytest.raises(InvalidCommandError, match="already recorded"):
        episode.record_outcomes({"housing": True, "education": False}, D(2024, 9, 2), TODAY)


def test_the_sustained_clock_is_due_six_calendar_months_after_the_closure() -> None:
    episode = closed_with_needs(D(2024, 8, 31))
    # outcomes confirmed ten days after the closing: the clock starts then, but counts from the
    # closure. Sat 31 Aug 2024 + 6 months = 31 Feb, clamped to Fri 28 Feb 2025 (a working day).
    episode.record_outcomes(
        {"housing": True, "education": True, "health": False}, D(2024, 9, 10), TODAY
    )
    entry = clock(episode, "outcomes_sustained", as_at=D(2025, 2, 1))
    assert (entry.started_on, entry.due_on, entry.status) == (
        D(2024, 9, 10), D(2025, 2, 28), Status.PENDING
    )  # fmt: skip
    with pytest.raises(InvalidCommandError, match="health: not an outcome met"):
        episode.record_sustained_check({"housing": True, "education": True, "health": True},
                                       D(2025, 2, 28), TODAY)  # fmt: skip
    with pytest.raises(InvalidCommandError, match="missing: education"):
        episode.record_sustained_check({"housing": True}, D(2025, 2, 28), TODAY)
    with pytest.raises(DomainError, match="six months after the closing"):
        episode.record_sustained_check({"housing": True, "education": True}, D(2025, 2, 27), TODAY)
    episode.record_sustained_check({"housing": True, "education": False}, D(2025, 3, 3), TODAY)
    entry = clock(episode, "outcomes_sustained")
    assert (entry.stopped_on, entry.status, entry.working_days_late) == (
        D(2025, 3, 3), Status.LATE, 1
    )  # fmt: skip


def test_no_met_outcome_starts_no_clock_and_allows_no_check() -> None:
    episode = closed_with_needs(D(2024, 5, 31))
    episode.record_outcomes(
        {"housing": False, "education": False, "health": False}, D(2024, 5, 31), TODAY
    )
    assert all(e.clock.value != "outcomes_sustained" for e in clocks(episode))
    with pytest.raises(InvalidCommandError, match="no outcome was recorded as met"):
        episode.record_sustained_check({"housing": True}, D(2024, 12, 2), TODAY)


def test_st_helens_leaves_the_sustained_clock_out() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.record_needs(["housing"], False, D(2024, 1, 9), TODAY)
    episode.close("outcomes_achieved", "Settled", D(2024, 5, 31), TODAY)
    episode.record_outcomes({"housing": True}, D(2024, 5, 31), TODAY)
    with pytest.raises(AssertionError):
        clock(episode, "outcomes_sustained")
