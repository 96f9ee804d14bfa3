import json
import random
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import pytest

from aggregates.calendar import FIRST_DAY, LAST_DAY, WorkingCalendar, add_months, england_and_wales

CAL = england_and_wales()


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2022, 9, 19), "state funeral of Queen Elizabeth II (one-off)"),
        (date(2023, 5, 8), "coronation of King Charles III (one-off)"),
        (date(2024, 3, 29), "Good Friday"),
        (date(2024, 4, 1), "Easter Monday"),
        (date(2022, 12, 27), "substitute day for Christmas Day on a Sunday"),
        (date(2021, 12, 28), "substitute day for Boxing Day on a Sunday"),
        (date(2020, 12, 28), "substitute day for Boxing Day on a Saturday"),
        (date(2026, 8, 31), "summer bank holiday"),
        (date(2024, 1, 6), "a Saturday"),
        (date(2024, 1, 7), "a Sunday"),
    ],
)
def test_bank_holidays_and_weekends_are_not_working_days(day: date, why: str) -> None:
    assert not CAL.is_working_day(day), why


def test_an_ordinary_weekday_is_a_working_day() -> None:
    assert CAL.is_working_day(date(2024, 1, 3))


def test_day_zero_is_the_starting_day() -> None:
    assert CAL.add_working_days(date(2024, 1, 3), 0) == date(2024, 1, 3)
    assert CAL.add_working_days(date(2024, 1, 3), 1) == date(2024, 1, 4)


def test_a_weekend_start_counts_from_the_monday() -> None:
    assert CAL.add_working_days(date(2024, 1, 6), 1) == date(2024, 1, 8)


@pytest.mark.parametrize(
    ("start", "count", "due"),
    [
        (date(2022, 9, 16), 1, date(2022, 9, 20)),  # over the state funeral
        (date(2023, 5, 5), 1, date(2023, 5, 9)),  # over the coronation
        (date(2024, 3, 28), 1, date(2024, 4, 2)),  # over Easter
        (date(2022, 12, 23), 1, date(2022, 12, 28)),  # over Boxing Day and the substitute day
        # 20 working days from 24 Apr 2023 skip 1 May and 8 May: due 24 May, not 22 May
        (date(2023, 4, 24), 20, date(2023, 5, 24)),
    ],
)
def test_working_days_skip_bank_holidays(start: date, count: int, due: date) -> None:
    assert CAL.add_working_days(start, count) == due


def test_working_days_after_counts_the_end_day_but_not_the_start() -> None:
    assert CAL.working_days_after(date(2023, 5, 5), date(2023, 5, 9)) == 1
    assert CAL.working_days_after(date(2024, 1, 3), date(2024, 1, 3)) == 0
    assert CAL.working_days_after(date(2024, 1, 10), date(2024, 1, 3)) == 0


@pytest.mark.parametrize(
    ("start", "months", "result"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year clamp
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 8, 31), 3, date(2024, 11, 30)),
        (date(2024, 1, 15), 6, date(2024, 7, 15)),
    ],
)
def test_months_are_calendar_months_clamped_to_month_end(
    start: date, months: int, result: date
) -> None:
    assert add_months(start, months) == result


def test_on_or_after_moves_a_non_working_day_to_the_next_working_day() -> None:
    assert CAL.on_or_after(date(2023, 5, 6)) == date(2023, 5, 9)
    assert CAL.on_or_after(date(2023, 5, 9)) == date(2023, 5, 9)


def test_the_bank_holidays_are_country_holidays_gb_eng_and_load_no_other_country() -> None:
    """Checked in a fresh interpreter: the United Kingdom's module alone is loaded, and gives the
    same class, dates and names as `holidays.country_holidays("GB", subdiv="ENG")`."""
    probe = """
import json, sys
from datetime import date
from aggregates.calendar import england_and_wales_bank_holidays
ours = england_and_wales_bank_holidays()
alone = "holidays.countries" not in sys.modules
import holidays
theirs = holidays.country_holidays("GB", subdiv="ENG")
for held in (ours, theirs):
    for year in range(1990, 2210):
        date(year, 6, 1) in held
print(json.dumps({
    "alone": alone,
    "same_class": type(ours) is type(theirs),
    "ours": sorted((str(day), name) for day, name in ours.items()),
    "theirs": sorted((str(day), name) for day, name in theirs.items()),
}))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["alone"] and found["same_class"]
    assert len(found["ours"]) > 900 and found["ours"] == found["theirs"]


def _working(day: date, holidays: Any) -> bool:
    return day.weekday() < 5 and day not in holidays


def test_the_counts_match_a_day_by_day_count_over_the_whole_span() -> None:
    """A fresh calendar, asked in an order that builds years out of order, gives what counting
    day by day gives (year ends, leap days and spans of many years included)."""
    import holidays

    reference = holidays.country_holidays("GB", subdiv="ENG")
    days = [FIRST_DAY + timedelta(days=n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    totals, running = {}, 0
    for day in days:
        running += _working(day, reference)
        totals[day] = running
    fresh = WorkingCalendar()
    edges = [FIRST_DAY, LAST_DAY, date(2024, 2, 29), date(2023, 12, 31), date(2024, 1, 1)]
    picked = [*random.Random(12).sample(days, 400), *edges]
    for start, end in zip(picked, reversed(picked), strict=True):
        expected = max(totals[end] - totals[start], 0)
        assert fresh.working_days_after(start, end) == expected, (start, end)
        assert fresh.is_working_day(start) == _working(start, reference), start
    for start in picked[:60]:
        count = random.Random(str(start)).randrange(0, 400)
        if start + timedelta(days=2 * count + 30) <= LAST_DAY:
            due = fresh.add_working_days(start, count)
            if count == 0:
                assert due == start
            else:  # (the first day on which the count is reached is a working day)
                assert totals[due] - totals[start] == count and _working(due, reference)


def test_dates_outside_the_span_are_refused() -> None:
    fresh = WorkingCalendar()
    with pytest.raises(ValueError, match=r"\(1999-12-31\)"):
        fresh.is_working_day(date(1999, 12, 31))
    with pytest.raises(ValueError, match=r"\(2200-01-01\)"):
        fresh.working_days_after(date(2024, 1, 1), date(2200, 1, 1))
    with pytest.raises(ValueError, match=r"\(1999-06-01\)"):
        fresh.working_days_after(date(1999, 6, 1), date(2024, 1, 1))


def test_without_the_united_kingdom_module_found_country_holidays_is_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import holidays

    from aggregates import calendar

    class NothingFound:
        @staticmethod
        def find_spec(name: str, path: list[str]) -> None:
            return None

    monkeypatch.delitem(sys.modules, "holidays.countries.united_kingdom", raising=False)
    monkeypatch.setattr(calendar, "PathFinder", NothingFound)
    found = calendar.england_and_wales_bank_holidays()
    assert date(2023, 5, 8) in found
    assert dict(found) == dict(holidays.country_holidays("GB", subdiv="ENG", years=2023))
