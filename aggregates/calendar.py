"""Working days in England and Wales, and the calendar arithmetic the clocks need.

Day 0 is the starting day; a working day is any weekday that is not a bank holiday of England
and Wales (one-off holidays and substitute days included, as published by the holidays package).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property, lru_cache
from typing import Any

from dateutil.relativedelta import relativedelta

ONE_DAY = timedelta(days=1)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)  # the span the calendar covers


class WorkingCalendar:
    """Weekends and the bank holidays of England and Wales are not working days.

    Working days are counted with a running total per day (built a year at a time as dates
    are asked for), so counting across months costs the same as across a day.
    """

    def __init__(self) -> None:
        self._first = FIRST_DAY.toordinal()
        self._totals: list[int] = []  # working days from _first up to and including each day
        self._working = bytearray()  # 1 for each working day from _first on
        self.add_working_days = lru_cache(maxsize=65536)(self._add_working_days)
        self.working_days_before = lru_cache(maxsize=65536)(self._working_days_before)

    @cached_property
    def _bank_holidays(self) -> Any:
        """Loaded when a date is first asked about (a command that asks none never loads it)."""
        import holidays

        return holidays.country_holidays("GB", subdiv="ENG")

    def _is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._bank_holidays

    def _index(self, day: date) -> int:
        """The day's place in the tables (grown a year at a time as later dates are asked for)."""
        index = day.toordinal() - self._first
        if 0 <= index < len(self._totals):
            return index
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"dates before 2000 or after 2199 are not supported ({day})")
        while index >= len(self._totals):
            start = date.fromordinal(self._first + len(self._totals))
            running = self._totals[-1] if self._totals else 0
            for offset in range(366):
                working = self._is_working(start + timedelta(days=offset))
                running += working
                self._totals.append(running)
                self._working.append(working)
        return index

    def _total(self, day: date) -> int:
        """Working days from 1 Jan 2000 up to and including `day`."""
        return self._totals[self._index(day)]

    def load_until(self, day: date) -> None:
        """Load the bank holidays and count the working days up to `day` now, rather than when
        a date is first asked about (a server does this before its first request)."""
        self._index(day)

    def is_working_day(self, day: date) -> bool:
        return bool(self._working[self._index(day)])

    def bank_holiday_name(self, day: date) -> str | None:
        name = self._bank_holidays.get(day)
        return None if name is None else str(name)

    def _add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (which is day 0, working or not)."""
        day = start
        remaining = count
        while remaining > 0:
            day += ONE_DAY
            if self.is_working_day(day):
                remaining -= 1
        return day

    def _working_days_before(self, end: date, count: int) -> date:
        """The working day `count` working days before `end` (`end` itself when count is 0)."""
        day = end
        while count > 0:
            day -= ONE_DAY
            if self.is_working_day(day):
                count -= 1
        return day

    def working_days_after(self, start: date, end: date) -> int:
        """Working days in the span after `start` up to and including `end` (0 if end <= start)."""
        return max(self._total(end) - self._total(start), 0) if end > start else 0

    def on_or_after(self, day: date) -> date:
        """`day` itself if it is a working day, otherwise the next working day."""
        while not self.is_working_day(day):
            day += ONE_DAY
        return day


@lru_cache(maxsize=65536)
def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's end (31 Jan + 1 month = 29 Feb 2024)."""
    result: date = start + relativedelta(months=months)
    return result


@lru_cache(maxsize=1)
def england_and_wales() -> WorkingCalendar:
    """The one shared calendar (building the holiday table is not free)."""
    return WorkingCalendar()
