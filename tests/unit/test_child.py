"""The child's record in the domain: sealed fields, corrections, erasure, and the retention
rules that say when a child falls due for erasure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from aggregates.child import Child, ChildErasedError
from aggregates.errors import DateError, InvalidCommandError
from aggregates.retention import Retention, due_for_erasure

TODAY = date(2026, 1, 15)


def test_a_correction_replaces_only_the_fields_it_gives() -> None:
    child = Child("C-1")
    child.record_details(
        {"name": "s1", "expected_date_of_birth": "s2"}, [], date(2025, 9, 1), TODAY
    )
    child.record_details(
        {"date_of_birth": "s3"}, ["expected_date_of_birth"], date(2025, 12, 1), TODAY
    )
    assert child.sealed == {"name": "s1", "date_of_birth": "s3"}


def test_an_erased_record_takes_nothing_personal_again() -> None:
    child = Child("C-1")
    child.record_details({"name": "s1"}, [], date(2025, 9, 1), TODAY)
    child.erase("retention", date(2026, 1, 2), TODAY)
    assert child.erased and child.sealed == {}
    with pytest.raises(ChildErasedError, match="erased on 2026-01-02"):
        child.record_details({"name": "s2"}, [], TODAY, TODAY)
    with pytest.raises(ChildErasedError):
        child.erase("again", TODAY, TODAY)


@pytest.mark.parametrize(
    ("sealed", "cleared", "on", "error", "message"),
    [
        ({"nickname": "x"}, [], TODAY, InvalidCommandError, "unknown personal field 'nickname'"),
        ({}, [], TODAY, InvalidCommandError, "at least one personal field"),
        ({"name": "x"}, [], date(2026, 1, 16), DateError, "in the future"),
    ],
)
def test_bad_details_are_refused(sealed: dict[str, str], cleared: list[str], on: date,
                                 error: type[Exception], message: str) -> None:  # fmt: skip
    with pytest.raises(error, match=message):
        Child("C-1").record_details(sealed, cleared, on, TODAY)


RULES = Retention(years_after_closure=6, until_birthday=25)


@pytest.mark.parametrize(
    ("closed", "born", "due_on", "rule"),
    [
        (date(2019, 3, 1), date(2000, 5, 1), date(2025, 5, 1), "25th birthday"),
        (date(2019, 3, 1), date(1990, 5, 1), date(2025, 3, 1), "6 years after the latest closure"),
        (date(2019, 3, 1), None, date(2025, 3, 1), "date of birth is not known"),
    ],
)
def test_the_later_rule_decides(closed: date, born: date | None, due_on: date, rule: str) -> None:
    found = due_for_erasure(RULES, None, closed, born, date(2025, 6, 1))
    assert (found.due_on, found.due) == (due_on, True) and rule in found.rule
    assert not due_for_erasure(RULES, None, closed, born, due_on - timedelta(days=1)).due


def test_a_child_with_an_open_episode_is_never_due() -> None:
    found = due_for_erasure(RULES, "EH-9", date(2001, 1, 1), date(1980, 1, 1), TODAY)
    assert not found.due and "EH-9 is open" in found.rule
    assert not due_for_erasure(
        Retention(years_after_closure=None), None, date(2001, 1, 1), None, TODAY
    ).due


def test_a_retention_needs_a_rule() -> None:
    with pytest.raises(ValueError, match="years_after_closure, until_birthday or both"):
        Retention(years_after_closure=None, until_birthday=None)
