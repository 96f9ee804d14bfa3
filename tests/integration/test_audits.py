"""Audits through the application on SQLite and PostgreSQL: independence, scoring against the
record's proposals, each scheme's completion, actions, discussion and safeguarding concerns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from aggregates.access import Principal, Role
from aggregates.audit import IndependenceError
from aggregates.errors import InvalidCommandError, LifecycleError
from aggregates.schemes import ASSESSMENT_ITEMS, REVIEW_ITEMS, Grade
from ehqa.auth import AccessLog
from ehqa.clock import fixed
from ehqa.services import Services
from schedulers.delivery import JsonLinesSink

D = date
TODAY = D(2023, 6, 30)


@pytest.fixture
def s(store_url: str) -> Iterator[Services]:
    services = Services(store_url, clock=fixed(TODAY))
    app = services.app
    app.open_episode(
        "EH-1", child="C-1", lead_name="Jo Bright", lead_agency="primary_school", on=D(2023, 4, 20)
    )
    app.change("EH-1", lambda e, t: e.record_consent(["primary_school"], D(2023, 4, 24), t))
    app.change(
        "EH-1", lambda e, t: e.finalise_assessment(D(2023, 5, 25), t)
    )  # a day late (due 24 May)
    app.change("EH-1", lambda e, t: e.decide_fam(D(2023, 5, 26), t))
    app.change("EH-1", lambda e, t: e.hold_fam(D(2023, 6, 5), t))
    app.change("EH-1", lambda e, t: e.change_lead("Sam Patel", "early_help_team", D(2023, 6, 6), t))
    yield services
    services.close()


def assign(
    s: Services, auditor: str, scheme: str = "st_helens", ref: str = "AU-1", **options: object
) -> None:
    s.assign_audit(ref, episode="EH-1", scheme=scheme, auditor=auditor, reason="random sample",
                   on=TODAY, **options)  # type: ignore[arg-type]  # fmt: skip


def test_an_auditor_who_led_the_episode_is_refused(s: Services) -> None:
    with pytest.raises(IndependenceError, match="Jo Bright has recorded on episode EH-1"):
        assign(s, "Jo Bright")  # led it before Sam Patel
    with pytest.raises(IndependenceError, match="Sam Patel has recorded on episode EH-1"):
        assign(s, "Sam Patel")


def test_an_auditor_who_recorded_on_the_episode_is_refused(s: Services) -> None:
    AccessLog(s.views).record(
        Principal("Ann Cole", Role.PRACTITIONER, "health_visiting"), "record see_child", "EH-1"
    )
    with pytest.raises(IndependenceError, match="Ann Cole has recorded on episode EH-1"):
        assign(s, "Ann Cole")
    AccessLog(s.views).record(
        Principal("Kate Evans", Role.AUDITOR), "episode", "EH-1"
    )  # a read is no involvement
    assign(s, "Kate Evans")


def test_a_line_manager_of_the_lead_professional_is_refused(s: Services) -> None:
    with pytest.raises(
        IndependenceError, match="Priya Shah manages the lead professional of episode EH-1"
    ):
        assign(s, "Priya Shah", managers={"Sam Patel": "Priya Shah"})
    assign(s, "Priya Shah", managers={"Someone Else": "Priya Shah"})
    assert s.app.get_audit("AU-1").auditor == "Priya Shah"


def test_a_st_helens_audit_is_scored_against_the_records_proposals(s: Services) -> None:
    assign(s, "Kate Evans")
    proposals = s.app.proposals("EH-1")
    assert proposals["A1"].score == 1  # finalised a working day late
    a1 = proposals["A1"].score

    def score(item: str, value: object, **options: object) -> None:
        s.app.change_audit(
            "AU-1", lambda a, t: a.score(item, value, "seen in the record", TODAY, t, **options)
        )  # type: ignore[arg-type]

    with pytest.raises(
        InvalidCommandError,
        match="A1 was proposed as 1 from the record; give a reason to score it 2",
    ):
        score("A1", 2, proposed=a1)
    score("A1", 2, proposed=a1, override_reason="delay agreed with the family in advance")
    for item in ASSESSMENT_ITEMS[1:]:
        score(item.code, 2)
    for item in REVIEW_ITEMS:
        score(item.code, 2)
    audit = s.app.get_audit("AU-1")
    assert audit.scores["A1"]["override_reason"] == "delay agreed with the family in advance"
    assert audit.proposed_grade()[0] == Grade.GOOD  # 40 and 20: Good, Good
    s.app.change_audit("AU-1", lambda a, t: a.flag("childs_voice_absent", True, TODAY, t))
    assert (
        s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t)).grade
        == Grade.REQUIRES_IMPROVEMENT
    )
    with pytest.raises(LifecycleError, match="the audit was completed"):
        score("A2", 1)
    due = s.app.calendar.add_working_days(TODAY, 10)
    s.app.change_audit(
        "AU-1",
        lambda a, t: a.issue_action("1", "Sam Patel", "Record the child's views", due, TODAY, t),
    )
    s.app.change_audit("AU-1", lambda a, t: a.complete_action("1", TODAY, t))
    assert s.app.get_audit("AU-1").actions["1"]["completed_on"] == TODAY


def test_what_makes_good_asks_for_moderation_and_records_the_decision(s: Services) -> None:
    assign(s, "Kate Evans", scheme="what_makes_good")
    for section, grade in (("assessment", "Outstanding"), ("initial_meeting", "Outstanding"),
                           ("review_meetings", "Outstanding"), ("outcomes", "Requires Improvement")):  # fmt: skip
        s.app.change_audit(
            "AU-1", lambda a, t, x=section, g=grade: a.score(x, g, "evidence", TODAY, t)
        )
    proposed, options, why = s.app.get_audit("AU-1").proposed_grade()
    assert (proposed, options) == (
        Grade.GOOD,
        (Grade.GOOD, Grade.REQUIRES_IMPROVEMENT),
    ) and "moderate" in why
    with pytest.raises(InvalidCommandError, match="the grade must be Good, Requires Improvement"):
        s.app.change_audit(
            "AU-1", lambda a, t: a.complete(TODAY, t, Grade.OUTSTANDING, "excellent")
        )
    with pytest.raises(InvalidCommandError, match="give a reason for Requires Improvement"):
        s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t, Grade.REQUIRES_IMPROVEMENT))
    done = s.app.change_audit(
        "AU-1", lambda a, t: a.complete(TODAY, t, Grade.REQUIRES_IMPROVEMENT, "outcomes unclear")
    )
    assert done.grade == Grade.REQUIRES_IMPROVEMENT


def test_a_darlington_audit_with_actions_and_the_discussion(s: Services) -> None:
    assign(s, "Kate Evans", scheme="darlington")
    for n, dimension in enumerate(("pre_eha_activity", "assessment", "planning", "review", "voice_of_the_child",
                                   "multi_agency_working", "impact", "management_oversight")):  # fmt: skip
        s.app.change_audit(
            "AU-1", lambda a, t, d=dimension, g=1 + n % 3: a.score(d, g, "evidence", TODAY, t)
        )
    assert s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t)).grade == Grade.GOOD
    s.app.change_audit(
        "AU-1",
        lambda a, t: a.record_discussion("Sam Patel", "Priya Shah", "Agreed actions", TODAY, t),
    )
    assert s.app.get_audit("AU-1").discussions[0]["manager"] == "Priya Shah"


def test_a_bnes_audit_rates_standards_and_the_auditor_gives_the_grade(s: Services) -> None:
    assign(s, "Kate Evans", scheme="bnes")
    with pytest.raises(InvalidCommandError, match="3k is amber: it needs an action"):
        s.app.change_audit(
            "AU-1", lambda a, t: a.score("3k", "amber", "13 weeks to first review", TODAY, t)
        )
    s.app.change_audit("AU-1", lambda a, t: a.score("3k", "amber", "13 weeks to first review", TODAY, t,
                                                   action="Set the first review at the FAM"))  # fmt: skip
    with pytest.raises(InvalidCommandError, match="give the overall grade"):
        s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t))
    assert (
        s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t, Grade.GOOD)).grade
        == Grade.GOOD
    )


def test_a_safeguarding_concern_is_delivered_at_once(s: Services, tmp_path: Path) -> None:
    assign(s, "Kate Evans")
    s.app.change_audit(
        "AU-1",
        lambda a, t: a.raise_safeguarding_concern("Bruising noted, not followed up", TODAY, t),
    )
    sink = JsonLinesSink(tmp_path / "alerts.jsonl")
    assert s.deliver([sink]) == 1
    line = (tmp_path / "alerts.jsonl").read_text()
    assert (
        "AU-1/safeguarding/1" in line and "Bruising noted" in line and '"episode": "EH-1"' in line
    )
    shown = [a for a in s.read.alerts(TODAY, role="coordinator") if a["clock"] == "safeguarding"]
    assert [(a["id"], a["rung"], a["raised_on"]) for a in shown] == [
        ("AU-1/safeguarding/1", "escalated", "2023-06-30")
    ]


def test_a_step_down_is_not_audited_on_its_assessment(store_url: str) -> None:
    services = Services(store_url, clock=fixed(TODAY))
    try:
        services.app.open_episode("EH-2", child="C-2", lead_name="Ravi", lead_agency="early_help_team",
                                  on=D(2023, 4, 3), origin="step_down", recent_social_care_assessment=True)  # fmt: skip
        services.assign_audit(
            "AU-2", episode="EH-2", scheme="st_helens", auditor="Kate", reason="x", on=TODAY
        )
        with pytest.raises(InvalidCommandError, match="not audited for a step-down"):
            services.app.change_audit("AU-2", lambda a, t: a.score("A2", 2, "evidence", TODAY, t))
    finally:
        services.close()


def test_audit_actions_run_on_the_audit_actions_clock_through_the_board_and_the_ladder(
    s: Services,
) -> None:
    assign(s, "Kate Evans")
    for item in ASSESSMENT_ITEMS + REVIEW_ITEMS:
        s.app.change_audit(
            "AU-1", lambda a, t, i=item.code: a.score(i, 1 if i == "A1" else 2, "e", TODAY, t)
        )
    s.app.change_audit("AU-1", lambda a, t: a.complete(TODAY, t))
    due = s.app.calendar.add_working_days(TODAY, 10)  # Fri 30 Jun 2023 + 10 working days
    assert due == D(2023, 7, 14)
    s.app.change_audit(
        "AU-1",
        lambda a, t: a.issue_action("1", "Sam Patel", "Update the chronology", due, TODAY, t),
    )
    s.catch_up()
    board = s.read.drift(D(2023, 7, 31), clock="audit_actions")
    assert [(r.episode, r.entry.occurrence, r.entry.due_on, r.lead_name) for r in board] == [
        ("AU-1", 1, due, "Sam Patel")
    ]
    later = Services(s.database_url, clock=fixed(D(2023, 7, 31)))
    try:
        raised = [r for r in later.sweep() or [] if r.clock == "audit_actions"]
        assert sorted((r.rung, r.fell_due_on) for r in raised) == [
            ("due_soon", D(2023, 7, 11)), ("escalated", D(2023, 7, 28)), ("overdue", D(2023, 7, 17)),
        ]  # fmt: skip
        assert all(r.recipients[0] == "Sam Patel" for r in raised)
        assert later.sweep() == []
        later.app.change_audit("AU-1", lambda a, t: a.complete_action("1", D(2023, 7, 31), t))
        later.catch_up()
        assert later.read.drift(D(2023, 7, 31), clock="audit_actions") == []
        assert not [a for a in later.read.alerts(D(2023, 7, 31)) if a["clock"] == "audit_actions"]
    finally:
        later.close()
