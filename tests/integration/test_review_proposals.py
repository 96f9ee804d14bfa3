"""R6 and R8 proposed through the application on SQLite and PostgreSQL, with dates that cross
English bank holidays (worked by hand in the comments), and R8 scored not applicable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from aggregates.errors import InvalidCommandError
from aggregates.schemes import REVIEW_ITEMS, Grade
from ehqa.clock import fixed
from ehqa.services import Services
from projections.reports import grade_report

D = date
TODAY = D(2024, 5, 10)


@pytest.fixture
def s(store_url: str) -> Iterator[Services]:
    services = Services(store_url, clock=fixed(TODAY))
    app = services.app
    # A step-down from social care with a single-agency plan: no FAM by design.
    app.open_episode("EH-S", child="C-S", lead_name="Jo Bright", lead_agency="early_help_team",
                     on=D(2024, 3, 1), origin="step_down", recent_social_care_assessment=True)  # fmt: skip
    app.change("EH-S", lambda e, t: e.record_consent(["early_help_team"], D(2024, 3, 4), t))
    # Thu 28 Mar 2024, before Good Friday: first review due Sun 28 Apr -> Mon 29 Apr
    app.change("EH-S", lambda e, t: e.agree_single_agency_plan(D(2024, 3, 28), t))
    # Tue 7 May, after the early May bank holiday: 30 Apr, 1, 2, 3, 7 May: 5 working days late
    app.change("EH-S", lambda e, t: e.hold_review(D(2024, 5, 7), t))
    # A FAM on Fri 10 Mar 2023 and never a review since.
    app.open_episode("EH-N", child="C-N", lead_name="Jo Bright", lead_agency="primary_school",
                     on=D(2023, 2, 20))  # fmt: skip
    app.change("EH-N", lambda e, t: e.record_consent(["primary_school"], D(2023, 2, 21), t))
    app.change("EH-N", lambda e, t: e.finalise_assessment(D(2023, 3, 1), t))
    app.change("EH-N", lambda e, t: e.decide_fam(D(2023, 3, 2), t))
    app.change("EH-N", lambda e, t: e.hold_fam(D(2023, 3, 10), t))
    yield services
    services.close()


def test_an_episode_never_reviewed_in_14_months_has_r6_not_met(s: Services) -> None:
    r6 = s.app.proposals("EH-N")["R6"]
    assert r6.score == 0
    # 10 Apr 2023 is Easter Monday: owed Tue 11 Apr, then 11 Jul, 11 Oct, 11 Jan, 11 Apr
    assert (
        r6.facts[0]
        == "5 review intervals: 0 in time, 0 late with the reason recorded, 0 late, 5 missed"
    )
    assert "interval 1 (first_review) due 2023-04-11: missed, no review held" in r6.facts
    assert "interval 5 (next_review) due 2024-04-11: missed, no review held" in r6.facts
    assert s.app.proposals("EH-N")["R8"].score == 2  # the FAM was held


def test_r8_is_not_applicable_to_a_single_agency_plan_and_is_unscored(s: Services) -> None:
    found = s.app.proposals("EH-S")
    assert found["R8"].score == "n/a"
    assert found["R8"].facts[0].startswith("single-agency plan agreed 2024-03-28")
    assert found["R6"].score == 1  # one gap: the first review 5 working days late
    assert found["R6"].facts[1] == (
        "interval 1 (first_review) due 2024-04-29: held 2024-05-07, late, 5 working days late,"
        " no reason recorded"
    )
    s.assign_audit("AU-S", episode="EH-S", scheme="st_helens", auditor="Ann Cole",
                   reason="random sample", on=TODAY)  # fmt: skip
    audit = s.app.get_audit("AU-S")
    assert audit.step_down  # audited without the assessment section

    def score(item: str, value: int | str, **options: str) -> None:
        proposed = s.app.proposed_value(s.app.get_audit("AU-S"), item)
        s.app.change_audit("AU-S", lambda a, t: a.score(
            item, value, "seen in the record", TODAY, t, proposed=proposed, **options))  # type: ignore[arg-type]  # fmt: skip

    with pytest.raises(InvalidCommandError, match="R8 was proposed as n/a from the record"):
        score("R8", 0)
    with pytest.raises(InvalidCommandError, match=r"R6 always applies \(only R8 may be n/a\)"):
        score("R6", "n/a", override_reason="no reviews")
    for item in REVIEW_ITEMS:
        score(item.code, {"R6": 1, "R8": "n/a"}.get(item.code, max(item.scores)))
    # R1, R9, R10 2 each, R2-R5 and R7 3 each, R6 1: 22 of the 24 the other items allow:
    # Outstanding (21 or more), where R8 scored 0 (22 of 27) would have been Good
    audit = s.app.get_audit("AU-S")
    assert audit.scores["R8"]["value"] == "n/a"
    assert audit.proposed_grade()[0] == Grade.OUTSTANDING
    assert s.app.change_audit("AU-S", lambda a, t: a.complete(TODAY, t)).grade == Grade.OUTSTANDING
    s.catch_up()
    rows = grade_report(s.read.audits(), "section")
    assert rows == [{"section": "st_helens: review", "Outstanding": 1, "Good": 0,
                     "Requires Improvement": 0, "Inadequate": 0, "total": 1}]  # fmt: skip
