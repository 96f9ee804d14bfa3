"""Family feedback (B&NES) and the Level 2 Panel (St Helens): the rules and the clocks, with
dates worked by hand in the comments."""

from datetime import date

import pytest

from aggregates.clocks import Status
from aggregates.episode import Episode
from aggregates.errors import DomainError, EpisodeClosedError, InvalidCommandError

from .builders import TODAY, clock, clocks, consented, opened

D = date
FEEDBACK = ("feedback_assessment", "feedback_third_review", "feedback_closure")


def bnes_with_three_reviews() -> Episode:
    episode = consented(on=D(2024, 1, 3), policy="bnes")
    episode.finalise_assessment(D(2024, 1, 9), TODAY)
    episode.agree_single_agency_plan(D(2024, 1, 10), TODAY)
    for day in (D(2024, 2, 7), D(2024, 4, 3), D(2024, 6, 5)):
        episode.hold_review(day, TODAY)
    return episode


def test_feedback_during_the_assessment_is_due_with_the_assessment_and_stops_its_clock() -> None:
    episode = consented(on=D(2024, 1, 3), policy="bnes")  # 20 working days on: Wed 31 Jan
    assert clock(episode, "feedback_assessment", as_at=D(2024, 1, 31)).status is Status.PENDING
    episode.record_feedback(
        "parent_carer", "during_assessment", {"worries_discussed": "agree"}, D(2024, 1, 25), TODAY
    )
    entry = clock(episode, "feedback_assessment")
    assert (entry.started_on, entry.due_on, entry.stopped_on, entry.status) == (
        D(2024, 1, 3), D(2024, 1, 31), D(2024, 1, 25), Status.MET
    )  # fmt: skip


def test_feedback_at_the_third_review_is_due_ten_working_days_after_it() -> None:
    episode = bnes_with_three_reviews()
    # Wed 5 June 2024 + 10 working days (no bank holiday): Wed 19 June
    entry = clock(episode, "feedback_third_review", as_at=D(2024, 6, 20))
    assert (entry.started_on, entry.due_on, entry.status) == (
        D(2024, 6, 5), D(2024, 6, 19), Status.OVERDUE
    )  # fmt: skip
    episode.record_feedback(
        "child", "third_review", {"kept_informed": "partly"}, D(2024, 6, 21), TODAY
    )
    late = clock(episode, "feedback_third_review")
    assert (late.status, late.working_days_late) == (Status.LATE, 2)  # Thu 20, Fri 21 June


def test_feedback_at_closure_runs_on_after_the_closing_and_may_be_recorded_then() -> None:
    episode = bnes_with_three_reviews()
    episode.close("outcomes_achieved", "Things are better", D(2024, 7, 1), TODAY)
    # Mon 1 July 2024 + 10 working days: Mon 15 July; every other clock closed with the episode
    entry = clock(episode, "feedback_closure", as_at=D(2024, 7, 16))
    assert (entry.due_on, entry.status) == (D(2024, 7, 15), Status.OVERDUE)
    with pytest.raises(EpisodeClosedError, match="only feedback at closure"):
        episode.record_feedback(
            "child", "third_review", {"agreed_plan": "agree"}, D(2024, 7, 2), TODAY
        )
    episode.record_feedback(
        "child", "closure", {"made_a_difference": "agree"}, D(2024, 7, 10), TODAY
    )
    assert clock(episode, "feedback_closure").status is Status.MET


def test_feedback_given_at_the_closing_meeting_before_the_close_is_met_at_once() -> None:
    episode = bnes_with_three_reviews()
    episode.record_feedback("parent_carer", "closure", {"got_help": "agree"}, D(2024, 7, 1), TODAY)
    episode.close("outcomes_achieved", "Things are better", D(2024, 7, 1), TODAY)
    entry = clock(episode, "feedback_closure")
    assert (entry.started_on, entry.stopped_on, entry.status) == (
        D(2024, 7, 1), D(2024, 7, 1), Status.MET
    )  # fmt: skip


def test_a_policy_without_feedback_clocks_has_none() -> None:
    episode = consented(on=D(2024, 1, 3), policy="st-helens")
    episode.record_feedback(
        "child", "during_assessment", {"kept_informed": "agree"}, D(2024, 1, 5), TODAY
    )
    assert not [e for e in clocks(episode) if e.clock.value in FEEDBACK]


@pytest.mark.parametrize(
    ("respondent", "point", "answers", "message"),
    [
        ("child", "third_review", {"kept_informed": "agree"}, "0 review"),
        ("child", "during_assessment", {"got_help": "agree"}, "no statement got_help"),
        ("child", "during_assessment", {"kept_informed": "great"}, "unknown rating"),
        ("aunt", "during_assessment", {}, "unknown respondent"),
        ("child", "during_assessment", {}, "at least one answer or a comment"),
    ],
)
def test_feedback_that_does_not_fit_the_sheet_is_refused(
    respondent: str, point: str, answers: dict[str, str], message: str
) -> None:
    episode = consented(on=D(2024, 1, 3), policy="bnes")
    with pytest.raises(InvalidCommandError, match=message):
        episode.record_feedback(respondent, point, answers, D(2024, 1, 5), TODAY)


def test_feedback_is_refused_before_consent_and_once_given_twice() -> None:
    with pytest.raises(InvalidCommandError, match="consent is not recorded"):
        opened(policy="bnes").record_feedback(
            "child", "during_assessment", {"kept_informed": "agree"}, D(2024, 1, 5), TODAY
        )
    episode = consented(on=D(2024, 1, 3), policy="bnes")
    episode.record_feedback("child", "during_assessment", {}, D(2024, 1, 5), TODAY, comments="ok")
    with pytest.raises(InvalidCommandError, match="already recorded \\(on 2024-01-05\\)"):
        episode.record_feedback(
            "child", "during_assessment", {}, D(2024, 1, 6), TODAY, comments="x"
        )


def test_a_panel_request_before_consent_is_refused_with_a_readable_reason() -> None:
    episode = opened(on=D(2024, 1, 2))
    with pytest.raises(InvalidCommandError) as refused:
        episode.request_panel(["services"], "Parenting support", D(2024, 1, 3), TODAY)
    assert "has not given consent" in str(refused.value)
    assert "Record their consent first" in str(refused.value)


def test_an_allocation_is_reviewed_at_panel_three_months_later() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.request_panel(["services", "family_support"], "Parenting support", D(2024, 2, 1), TODAY)
    with pytest.raises(InvalidCommandError, match="still awaiting the panel's outcome"):
        episode.request_panel(["advice"], "Again", D(2024, 2, 2), TODAY)
    episode.record_panel_outcome(
        "services_allocated", [{"service": "Family support", "provider": "Home-Start"}],
        D(2024, 2, 15), TODAY,
    )  # fmt: skip
    # Thu 15 Feb 2024 + 3 months: Wed 15 May 2024
    assert clock(episode, "panel_review", as_at=D(2024, 5, 16)).status is Status.OVERDUE
    episode.record_panel_review(False, D(2024, 5, 20), TODAY)
    entry = clock(episode, "panel_review")
    assert (entry.started_on, entry.due_on, entry.stopped_on) == (
        D(2024, 2, 15), D(2024, 5, 15), D(2024, 5, 20)
    )  # fmt: skip
    assert (entry.status, entry.working_days_late) == (Status.LATE, 3)  # Thu 16, Fri 17, Mon 20
    with pytest.raises(InvalidCommandError, match="no allocation"):
        episode.record_panel_review(True, D(2024, 5, 21), TODAY)


def test_advice_starts_no_review_and_closing_cancels_a_pending_review() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.request_panel(["advice"], "What next?", D(2024, 2, 1), TODAY)
    with pytest.raises(DomainError, match="advice allocates no services"):
        episode.record_panel_outcome(
            "advice", [{"service": "x", "provider": "y"}], D(2024, 2, 8), TODAY
        )
    episode.record_panel_outcome(
        "advice", [], D(2024, 2, 8), TODAY, notes="Try the parenting course"
    )
    assert not [e for e in clocks(episode) if e.clock.value == "panel_review"]
    episode.request_panel(["services"], "Now services", D(2024, 3, 1), TODAY)
    episode.record_panel_outcome(
        "services_allocated",
        [{"service": "Youth work", "provider": "Youth service"}],
        D(2024, 3, 7),
        TODAY,
    )
    episode.close("outcomes_achieved", "Done", D(2024, 4, 2), TODAY)
    assert clock(episode, "panel_review").status is Status.CANCELLED
