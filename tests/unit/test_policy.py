from datetime import date
from pathlib import Path

import pytest

from aggregates.calendar import england_and_wales
from aggregates.errors import PolicyError
from aggregates.policy import ClockName, Timescale, resolve
from ehqa.policies import PolicyBook

CAL = england_and_wales()


def test_st_helens_preset_has_every_clock_of_the_domain_brief() -> None:
    policy = PolicyBook().get("st-helens")
    due = {clock.value: str(rule.due) for clock, rule in policy.clocks.items()}
    assert due == {
        "assessment": "20 working days",
        "fam": "15 working days",
        "plan_circulation": "10 working days",
        "first_review": "1 months",
        "next_review": "3 months",
        "modified_plan_circulation": "15 days",
        "child_seen": "28 days",
        "gcp2": "30 days",
        "long_running": "6 months",
        "audit_actions": "10 working days",
        "panel_review": "3 months",
    }
    assert str(policy.rule(ClockName.ASSESSMENT).pre_birth_due) == "45 days"
    # it asks for no family feedback: those optional clocks are absent, so never due
    assert not policy.rule(ClockName.FEEDBACK_ASSESSMENT).enabled


FEEDBACK = (
    ClockName.FEEDBACK_ASSESSMENT, ClockName.FEEDBACK_THIRD_REVIEW, ClockName.FEEDBACK_CLOSURE
)  # fmt: skip


def test_bnes_overrides_only_its_first_review_and_adds_family_feedback() -> None:
    book = PolicyBook()
    bnes, st_helens = book.get("bnes"), book.get("st-helens")
    assert bnes.extends == "st-helens"
    assert str(bnes.rule(ClockName.FIRST_REVIEW).due) == "12 weeks"
    assert [str(bnes.rule(c).due) for c in FEEDBACK] == [
        "20 working days", "10 working days", "10 working days"
    ]  # fmt: skip
    # and the Supporting Families check, six months after the closing (st-helens leaves it out)
    assert str(bnes.rule(ClockName.OUTCOMES_SUSTAINED).due) == "6 months"
    assert not st_helens.rule(ClockName.OUTCOMES_SUSTAINED).enabled
    for clock in ClockName:
        if clock not in (ClockName.FIRST_REVIEW, ClockName.OUTCOMES_SUSTAINED, *FEEDBACK):
            assert bnes.rule(clock).due == st_helens.rule(clock).due


def test_darlington_keeps_a_six_month_review_assessment() -> None:
    darlington = PolicyBook().get("darlington")
    assert str(darlington.rule(ClockName.LONG_RUNNING).due) == "6 months"
    assert "Review assessment" in darlington.rule(ClockName.LONG_RUNNING).label


def test_a_council_policy_extends_a_preset_and_changes_only_what_differs(tmp_path: Path) -> None:
    (tmp_path / "northtown.toml").write_text(
        'title = "Northtown"\nextends = "st-helens"\nroll_forward = false\n'
        "[clocks.assessment]\ndue = { working_days = 10 }\n"
        "[clocks.next_review]\ndue = { weeks = 6 }\n"
    )
    policy = PolicyBook(tmp_path).get("northtown")
    assert str(policy.rule(ClockName.ASSESSMENT).due) == "10 working days"
    assert policy.rule(ClockName.ASSESSMENT).label == "Early Help assessment finalised"
    assert str(policy.rule(ClockName.ASSESSMENT).pre_birth_due) == "45 days"
    assert str(policy.rule(ClockName.NEXT_REVIEW).due) == "6 weeks"
    assert policy.roll_forward is False


def test_an_invalid_policy_names_the_field_that_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text(
        'title = "Bad"\nextends = "st-helens"\n[clocks.fam]\ndue = { fortnights = 1 }\n'
    )
    with pytest.raises(PolicyError, match=r"clocks\.fam\.due\.fortnights"):
        PolicyBook(tmp_path).get("bad")


def test_a_timescale_needs_exactly_one_unit() -> None:
    with pytest.raises(PolicyError, match="exactly one of"):
        resolve(
            "x",
            {
                "x": {
                    "title": "x",
                    "clocks": {
                        c.value: {"label": "l", "due": {"days": 1, "months": 1}} for c in ClockName
                    },
                }
            },
        )


def test_a_policy_must_define_every_clock() -> None:
    with pytest.raises(PolicyError, match=r"clocks missing from the policy: .*long_running"):
        resolve("x", {"x": {"title": "x", "clocks": {"fam": {"label": "l", "due": {"days": 1}}}}})


def test_unknown_and_circular_policies_are_refused() -> None:
    with pytest.raises(PolicyError, match="unknown policy 'nowhere'"):
        PolicyBook().get("nowhere")
    with pytest.raises(PolicyError, match="extends unknown policy 'ghost'"):
        resolve("a", {"a": {"extends": "ghost"}})
    with pytest.raises(PolicyError, match="extends itself"):
        resolve("a", {"a": {"extends": "b"}, "b": {"extends": "a"}})


def test_calendar_day_due_dates_roll_forward_to_a_working_day_unless_switched_off() -> None:
    fifteen_days = Timescale(days=15)
    # 23 Apr 2023 + 15 days = Mon 8 May 2023, the coronation bank holiday
    assert fifteen_days.due_date(date(2023, 4, 23), CAL, roll_forward=True) == date(2023, 5, 9)
    assert fifteen_days.due_date(date(2023, 4, 23), CAL, roll_forward=False) == date(2023, 5, 8)


def test_a_month_due_date_clamps_then_rolls_forward() -> None:
    one_month = Timescale(months=1)
    assert one_month.due_date(date(2024, 1, 31), CAL, roll_forward=True) == date(2024, 2, 29)
    assert one_month.due_date(date(2024, 8, 31), CAL, roll_forward=True) == date(2024, 9, 30)
    # 26 Nov 2022 + 1 month = Mon 26 Dec 2022 (Boxing Day) and Tue 27 Dec (substitute) -> 28 Dec
    assert one_month.due_date(date(2022, 11, 26), CAL, roll_forward=True) == date(2022, 12, 28)


def test_st_helens_2022_differs_from_st_helens_only_in_its_assessment_timescale() -> None:
    from aggregates.policy import differences

    book = PolicyBook()
    st_helens, of_2022 = book.get("st-helens"), book.get("st-helens-2022")
    assert of_2022.extends == "st-helens" and of_2022.roll_forward is True
    assert str(of_2022.rule(ClockName.ASSESSMENT).due) == "30 days"
    assert str(of_2022.rule(ClockName.ASSESSMENT).pre_birth_due) == "45 days"
    assert [d.field for d in differences(st_helens, of_2022)] == [
        "title",
        "clocks.assessment.label",
        "clocks.assessment.due",
        "clocks.assessment.source",
    ]
    assert differences(of_2022, of_2022) == []
    # 30 calendar days from Thu 6 Apr 2023 is Sat 6 May; Mon 8 May 2023 was the coronation
    due = of_2022.due_date(ClockName.ASSESSMENT, date(2023, 4, 6), False, CAL)
    assert due == date(2023, 5, 9)
