"""The lifecycle and its guards, driven through the aggregate's own commands."""

from datetime import date

import pytest

from aggregates.episode import ChildRecord, ClosureReason, Episode
from aggregates.errors import (
    ChildAlreadyOpenError,
    DateError,
    EpisodeClosedError,
    InvalidCommandError,
    LifecycleError,
)
from aggregates.lifecycle import MACHINE, TABLE, State, mermaid

from .builders import TODAY, consented, opened, with_fam


def test_a_referral_moves_through_assessment_and_a_fam_to_an_active_plan() -> None:
    episode = opened()
    assert episode.state is State.REFERRED
    episode.record_consent(["primary_school"], date(2024, 1, 3), TODAY)
    assert episode.state is State.ASSESSING
    episode.finalise_assessment(date(2024, 1, 20), TODAY)
    assert episode.state is State.ASSESSED
    episode.decide_fam(date(2024, 1, 22), TODAY)
    assert episode.state is State.CONVENING
    episode.hold_fam(date(2024, 2, 5), TODAY)
    assert episode.state is State.PLAN_ACTIVE
    episode.circulate_plan(date(2024, 2, 6), TODAY)
    episode.hold_review(date(2024, 3, 1), TODAY, plan_changed=True)
    assert episode.state is State.PLAN_ACTIVE


def test_a_single_agency_plan_is_reviewed_like_a_plan_without_a_fam() -> None:
    episode = consented()
    episode.finalise_assessment(date(2024, 1, 9), TODAY)
    episode.agree_single_agency_plan(date(2024, 1, 10), TODAY)
    assert episode.state is State.PLAN_ACTIVE
    episode.hold_review(date(2024, 2, 9), TODAY)


def test_a_step_down_with_a_recent_social_care_assessment_starts_assessed() -> None:
    episode = opened(origin="step_down", recent_social_care_assessment=True)
    assert episode.state is State.ASSESSED
    with pytest.raises(InvalidCommandError, match="consent is not recorded yet"):
        episode.agree_single_agency_plan(date(2024, 1, 5), TODAY)
    episode.record_consent(["early_help_team"], date(2024, 1, 3), TODAY)
    assert episode.state is State.ASSESSED
    episode.agree_single_agency_plan(date(2024, 1, 5), TODAY)
    assert episode.state is State.PLAN_ACTIVE


def test_a_recent_social_care_assessment_only_applies_to_a_step_down() -> None:
    with pytest.raises(InvalidCommandError, match="step-down"):
        opened(recent_social_care_assessment=True)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            lambda e: e.hold_review(date(2024, 1, 20), TODAY),
            "cannot hold a review: this needs a Family Action Meeting",
        ),
        (lambda e: e.hold_fam(date(2024, 1, 20), TODAY), "needs a decision to convene it first"),
        (lambda e: e.decide_fam(date(2024, 1, 20), TODAY), "needs a finalised assessment"),
        (lambda e: e.circulate_plan(date(2024, 1, 20), TODAY), "needs a plan agreed"),
        (lambda e: e.record_mash_outcome(2, date(2024, 1, 20), TODAY), "needs a step-up to MASH"),
        (
            lambda e: e.agree_single_agency_plan(date(2024, 1, 20), TODAY),
            "needs a finalised assessment",
        ),
    ],
)
def test_steps_out_of_order_are_refused_and_record_nothing(step, message: str) -> None:
    episode = consented()
    version, facts = episode.version, list(episode.facts)
    with pytest.raises(LifecycleError, match=message):
        step(episode)
    assert episode.version == version
    assert episode.facts == facts
    assert episode.state is State.ASSESSING


def test_finalising_an_assessment_needs_consent_first() -> None:
    with pytest.raises(LifecycleError, match=r"needs consent .* the episode is `referred`"):
        opened().finalise_assessment(date(2024, 1, 5), TODAY)


def test_consent_withheld_closes_the_episode() -> None:
    episode = opened()
    episode.withhold_consent(date(2024, 1, 4), TODAY)
    assert episode.state is State.CLOSED
    assert episode.closed_reason is ClosureReason.CONSENT_WITHHELD


def test_consent_withheld_with_a_safeguarding_concern_steps_up_instead() -> None:
    episode = opened()
    episode.withhold_consent(date(2024, 1, 4), TODAY, safeguarding=True)
    assert episode.state is State.AWAITING_MASH
    episode.record_mash_outcome(3, date(2024, 1, 5), TODAY)
    assert episode.state is State.CLOSED
    assert episode.closed_reason is ClosureReason.STEPPED_UP


def test_consent_cannot_be_withheld_once_given() -> None:
    with pytest.raises(InvalidCommandError, match="record consent withdrawn instead"):
        consented().withhold_consent(date(2024, 1, 5), TODAY)


def test_consent_withdrawn_closes_the_episode_from_any_open_state() -> None:
    episode = with_fam(held=date(2024, 1, 25))
    episode.withdraw_consent(date(2024, 2, 1), TODAY)
    assert episode.state is State.CLOSED
    assert episode.closed_reason is ClosureReason.CONSENT_WITHDRAWN


def test_consent_recorded_again_amends_the_agencies_without_moving_the_episode() -> None:
    episode = consented()
    episode.record_consent(["camhs", "primary_school"], date(2024, 1, 5), TODAY)
    assert episode.state is State.ASSESSING
    assert episode.consent_agencies == ["camhs", "primary_school"]
    assert episode.consented_on == date(2024, 1, 3)


def test_consent_names_at_least_one_agency() -> None:
    with pytest.raises(InvalidCommandError, match="at least one agency"):
        opened().record_consent([" "], date(2024, 1, 3), TODAY)


def test_a_step_up_returns_to_where_it_was_when_mash_keeps_the_family_at_level_2() -> None:
    episode = with_fam(held=date(2024, 1, 25))
    episode.step_up(3, date(2024, 2, 1), TODAY)
    assert episode.state is State.AWAITING_MASH
    with pytest.raises(LifecycleError, match="not already awaiting MASH"):
        episode.step_up(4, date(2024, 2, 2), TODAY)
    episode.see_child(date(2024, 2, 2), TODAY)  # work goes on while MASH decides
    episode.record_mash_outcome(2, date(2024, 2, 3), TODAY)
    assert episode.state is State.PLAN_ACTIVE


def test_mash_accepting_the_family_closes_the_episode_as_stepped_up() -> None:
    episode = consented()
    episode.step_up(4, date(2024, 1, 5), TODAY)
    episode.record_mash_outcome(4, date(2024, 1, 6), TODAY)
    assert episode.state is State.CLOSED
    assert episode.closed_reason is ClosureReason.STEPPED_UP


@pytest.mark.parametrize("level", [1, 2, 5])
def test_a_step_up_is_to_level_3_or_4(level: int) -> None:
    with pytest.raises(InvalidCommandError, match="level 3 or 4"):
        consented().step_up(level, date(2024, 1, 5), TODAY)


def test_a_mash_outcome_is_level_2_3_or_4() -> None:
    episode = consented()
    episode.step_up(3, date(2024, 1, 5), TODAY)
    with pytest.raises(InvalidCommandError, match="level 2, 3 or 4"):
        episode.record_mash_outcome(1, date(2024, 1, 6), TODAY)


def test_closure_needs_a_known_reason_and_a_summary() -> None:
    episode = consented()
    with pytest.raises(InvalidCommandError, match="unknown closure reason 'bored'"):
        episode.close("bored", "x", date(2024, 1, 5), TODAY)
    with pytest.raises(InvalidCommandError, match="needs a summary"):
        episode.close("outcomes_achieved", "  ", date(2024, 1, 5), TODAY)
    episode.close("no_further_action", "Needs met by school", date(2024, 1, 5), TODAY)
    assert (episode.state, episode.closed_reason) == (State.CLOSED, ClosureReason.NO_FURTHER_ACTION)
    assert episode.closure_summary == "Needs met by school"


@pytest.mark.parametrize(
    "step",
    [
        lambda e: e.see_child(date(2024, 1, 9), TODAY),
        lambda e: e.record_consent(["x"], date(2024, 1, 9), TODAY),
        lambda e: e.close("outcomes_achieved", "again", date(2024, 1, 9), TODAY),
        lambda e: e.change_lead("Sam", "school", date(2024, 1, 9), TODAY),
        lambda e: e.step_up(3, date(2024, 1, 9), TODAY),
    ],
)
def test_nothing_is_recorded_on_a_closed_episode(step) -> None:
    episode = consented()
    episode.close("outcomes_achieved", "done", date(2024, 1, 8), TODAY)
    with pytest.raises(EpisodeClosedError, match="closed and records nothing more"):
        step(episode)


def test_a_business_date_in_the_future_is_refused() -> None:
    with pytest.raises(DateError, match="in the future"):
        opened(on=date(2026, 1, 16))
    with pytest.raises(DateError, match="2026-01-16 is in the future"):
        consented().see_child(date(2026, 1, 16), TODAY)


def test_a_business_date_before_the_episode_opened_is_refused() -> None:
    with pytest.raises(DateError, match="before the episode was opened"):
        opened(on=date(2024, 1, 2)).record_consent(["x"], date(2024, 1, 1), TODAY)


@pytest.mark.parametrize(
    ("step", "what"),
    [
        (lambda e: e.finalise_assessment(date(2024, 1, 2), TODAY), "before consent was recorded"),
        (lambda e: e.withdraw_consent(date(2024, 1, 2), TODAY), "before the latest step recorded"),
    ],
)
def test_a_business_date_before_the_step_it_follows_is_refused(step, what: str) -> None:
    with pytest.raises(DateError, match=what):
        step(consented(on=date(2024, 1, 3)))


def test_meetings_and_reviews_cannot_predate_what_they_follow() -> None:
    episode = consented()
    episode.finalise_assessment(date(2024, 1, 9), TODAY)
    with pytest.raises(DateError, match="before the assessment was finalised"):
        episode.decide_fam(date(2024, 1, 8), TODAY)
    episode.decide_fam(date(2024, 1, 10), TODAY)
    with pytest.raises(DateError, match="before the decision to convene"):
        episode.hold_fam(date(2024, 1, 9), TODAY)
    episode.hold_fam(date(2024, 1, 20), TODAY)
    with pytest.raises(DateError, match="before the plan was agreed"):
        episode.circulate_plan(date(2024, 1, 19), TODAY)
    episode.hold_review(date(2024, 2, 20), TODAY)
    with pytest.raises(DateError, match="before the previous review"):
        episode.hold_review(date(2024, 2, 19), TODAY)
    with pytest.raises(DateError, match="before the latest step recorded"):
        episode.close("outcomes_achieved", "done", date(2024, 2, 19), TODAY)


def test_a_lead_professional_change_needs_a_new_lead() -> None:
    episode = consented()
    with pytest.raises(InvalidCommandError, match="already the lead professional"):
        episode.change_lead("Jo Bright", "primary_school", date(2024, 1, 5), TODAY)
    episode.change_lead("Sam Patel", "secondary_school", date(2024, 1, 5), TODAY)
    assert episode.lead == {"name": "Sam Patel", "agency": "secondary_school"}
    with pytest.raises(InvalidCommandError, match="needs a name and an agency"):
        episode.change_lead("", "school", date(2024, 1, 6), TODAY)


def test_gcp2_runs_one_at_a_time_and_completes_after_it_started() -> None:
    episode = consented()
    with pytest.raises(InvalidCommandError, match="none is under way"):
        episode.complete_gcp2(date(2024, 1, 5), TODAY)
    episode.start_gcp2(date(2024, 1, 5), TODAY)
    with pytest.raises(InvalidCommandError, match="not completed yet"):
        episode.start_gcp2(date(2024, 1, 6), TODAY)
    with pytest.raises(DateError, match="before the GCP2 was started"):
        episode.complete_gcp2(date(2024, 1, 4), TODAY)
    episode.complete_gcp2(date(2024, 1, 20), TODAY)
    episode.start_gcp2(date(2024, 3, 1), TODAY)


def test_a_gcp2_needs_consent() -> None:
    with pytest.raises(InvalidCommandError, match="consent is not recorded"):
        opened().start_gcp2(date(2024, 1, 5), TODAY)


def test_an_exception_names_a_known_clock_that_has_started() -> None:
    episode = consented()
    with pytest.raises(InvalidCommandError, match="unknown clock 'tea'"):
        episode.record_exception("tea", "why", date(2024, 1, 5), TODAY)
    with pytest.raises(InvalidCommandError, match="fam clock had not started"):
        episode.record_exception("fam", "why", date(2024, 1, 5), TODAY)
    with pytest.raises(InvalidCommandError, match="needs a reason"):
        episode.record_exception("assessment", " ", date(2024, 1, 5), TODAY)
    episode.record_exception("assessment", "Family in hospital", date(2024, 1, 5), TODAY)


def test_replaying_the_events_rebuilds_the_same_episode_without_deciding_again() -> None:
    episode = with_fam(held=date(2024, 1, 25))
    episode.step_up(3, date(2024, 2, 1), TODAY)
    episode.record_mash_outcome(2, date(2024, 2, 3), TODAY)
    events = episode.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert isinstance(replayed, Episode)
    assert replayed.state is episode.state
    assert replayed.facts == episode.facts
    assert replayed.version == episode.version


def test_a_child_record_refuses_a_second_open_episode_and_names_the_open_one() -> None:
    record = ChildRecord("C-1")
    record.episode_opened("EH-1")
    with pytest.raises(ChildAlreadyOpenError, match="already has an open episode, EH-1"):
        record.episode_opened("EH-2")
    record.episode_closed("EH-1")
    record.episode_opened("EH-2")
    assert record.episodes == ["EH-1", "EH-2"]


def test_the_lifecycle_table_is_a_transitions_decision_table() -> None:
    assert MACHINE.get_transitions(trigger="hold_fam", source="convening")[0].dest == "plan_active"
    assert set(TABLE) == set(MACHINE.events)
    diagram = mermaid()
    assert "convening --> plan_active: hold_fam" in diagram
    assert "awaiting_mash --> closed: mash_accepts" in diagram
