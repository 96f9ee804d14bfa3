"""Working days in England and Wales, and the calendar arithmetic the clocks need.

Day 0 is the starting day; a working day is any weekday that is not a bank holiday of England
and Wales (one-off holidays and substitute days included, as published by the holidays package).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
from dateutil.relativedelta import relativedelta

ONE_DAY = timedelta(days=1)


class WorkingCalendar:
    """Weekends and the bank holidays of England and Wales are not working days."""

    def __init__(self) -> None:
        self._bank_holidays = holidays.country_holidays("GB", subdiv="ENG")
        self.is_working_day = lru_cache(maxsize=32768)(self._is_working_day)

    def _is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._bank_holidays

    def bank_holiday_name(self, day: date) -> str | None:
        name = self._bank_holidays.get(day)
        return None if name is None else str(name)

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (which is day 0, working or not)."""
        day = start
        remaining = count
        while remaining > 0:
            day += ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_after(self, start: date, end: date) -> int:
        """Working days in the span after `start` up to and including `end` (0 if end <= start)."""
        count = 0
        day = start + ONE_DAY
        while day <= end:
            if self.is_working_day(day):
                count += 1
            day += ONE_DAY
        return count

    def on_or_after(self, day: date) -> date:
        """`day` itself if it is a working day, otherwise the next working day."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 29 Feb 2024)."""
    result: date = start + relativedelta(months=months)
    return result


@lru_cache(maxsize=1)
def england_and_wales() -> WorkingCalendar:
    """The one shared calendar (building the holiday table is not free)."""
    return WorkingCalendar()
