"""The same contract on an SQLite file and on PostgreSQL: what is saved is what is read back."""

from __future__ import annotations

from datetime import date

import pytest

from aggregates.clocks import Status
from aggregates.errors import ChildAlreadyOpenError, DateError, LifecycleError
from aggregates.lifecycle import State
from ehqa.application import (
    ConflictError,
    EhqaApplication,
    EpisodeExistsError,
    EpisodeNotFoundError,
)
from ehqa.clock import fixed
from ehqa.store import store_env

D = date


def open_one(app: EhqaApplication, reference: str = "EH-1", child: str = "C-1") -> None:
    app.open_episode(
        reference,
        child=child,
        lead_name="Jo Bright",
        lead_agency="primary_school",
        on=D(2024, 1, 2),
    )


def test_an_episode_is_saved_and_read_back_with_its_clocks(app: EhqaApplication) -> None:
    open_one(app)
    app.change("EH-1", lambda e, t: e.record_consent(["primary_school"], D(2024, 1, 3), t))
    app.change("EH-1", lambda e, t: e.finalise_assessment(D(2024, 2, 5), t))
    episode = app.get_episode("EH-1")
    assert episode.state is State.ASSESSED
    assert episode.version == 3
    assessment = next(e for e in app.clocks(episode) if e.clock.value == "assessment")
    assert (assessment.due_on, assessment.status, assessment.working_days_late) == (
        D(2024, 1, 31),
        Status.LATE,
        3,
    )


def test_a_refused_command_records_nothing(app: EhqaApplication) -> None:
    open_one(app)
    with pytest.raises(LifecycleError):
        app.change("EH-1", lambda e, t: e.hold_review(D(2024, 1, 5), t))
    with pytest.raises(DateError):
        app.change("EH-1", lambda e, t: e.see_child(D(2030, 1, 1), t))
    assert app.get_episode("EH-1").version == 1
    assert [item["event"] for item in app.timeline("EH-1")] == ["Opened"]


def test_the_timeline_is_in_business_date_order_with_recorded_times(app: EhqaApplication) -> None:
    open_one(app)
    app.change("EH-1", lambda e, t: e.record_consent(["primary_school"], D(2024, 1, 3), t))
    app.change("EH-1", lambda e, t: e.see_child(D(2024, 1, 20), t))
    app.change("EH-1", lambda e, t: e.see_child(D(2024, 1, 10), t))
    timeline = app.timeline("EH-1")
    assert [(i["on"], i["event"]) for i in timeline] == [
        ("2024-01-02", "Opened"),
        ("2024-01-03", "ConsentRecorded"),
        ("2024-01-10", "ChildSeen"),
        ("2024-01-20", "ChildSeen"),
    ]
    assert timeline[1]["agencies"] == ["primary_school"]
    assert all(item["recorded_at"].startswith("20") for item in timeline)
    assert timeline[2]["recorded_at"] > timeline[3]["recorded_at"]  # recorded after, dated before


def test_an_unknown_episode_is_not_found(app: EhqaApplication) -> None:
    with pytest.raises(EpisodeNotFoundError, match="no episode EH-404"):
        app.get_episode("EH-404")
    with pytest.raises(EpisodeNotFoundError):
        app.timeline("EH-404")


def test_an_episode_reference_is_used_once(app: EhqaApplication) -> None:
    open_one(app)
    with pytest.raises(EpisodeExistsError, match="EH-1 already exists"):
        open_one(app, child="C-2")


def test_a_child_has_one_open_episode_and_a_new_one_after_closure(app: EhqaApplication) -> None:
    open_one(app)
    with pytest.raises(ChildAlreadyOpenError, match="C-1 already has an open episode, EH-1"):
        open_one(app, reference="EH-2")
    app.change("EH-1", lambda e, t: e.close("no_further_action", "Resolved", D(2024, 1, 5), t))
    open_one(app, reference="EH-2")
    assert app.get_episode("EH-2").child == "C-1"


def test_a_stepped_up_episode_frees_the_child_for_a_later_episode(app: EhqaApplication) -> None:
    open_one(app)
    app.change("EH-1", lambda e, t: e.step_up(4, D(2024, 1, 3), t))
    app.change("EH-1", lambda e, t: e.record_mash_outcome(4, D(2024, 1, 4), t))
    open_one(app, reference="EH-2")


def test_two_writers_on_one_episode_one_wins_one_gets_a_conflict(store_url: str) -> None:
    first = EhqaApplication(store_env(store_url), clock=fixed(D(2026, 1, 15)))
    second = EhqaApplication(store_env(store_url), clock=fixed(D(2026, 1, 15)))
    open_one(first)

    def withhold_while_the_other_writer_records_consent(episode, today):  # type: ignore[no-untyped-def]
        first.change("EH-1", lambda e, t: e.record_consent(["primary_school"], D(2024, 1, 3), t))
        episode.withhold_consent(D(2024, 1, 3), today)

    with pytest.raises(ConflictError, match="EH-1 was changed by someone else"):
        second.change("EH-1", withhold_while_the_other_writer_records_consent)
    assert [i["event"] for i in second.timeline("EH-1")] == ["Opened", "ConsentRecorded"]
    assert second.get_episode("EH-1").state is State.ASSESSING
    first.close()
    second.close()


def test_an_unknown_policy_is_refused_when_opening(app: EhqaApplication) -> None:
    from aggregates.errors import PolicyError

    with pytest.raises(PolicyError, match="unknown policy 'atlantis'"):
        app.open_episode(
            "EH-1", child="C", lead_name="a", lead_agency="b", on=D(2024, 1, 2), policy="atlantis"
        )
