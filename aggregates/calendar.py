"""Working days in England and Wales, and the calendar arithmetic the clocks need.

Day 0 is the starting day; a working day is any weekday that is not a bank holiday of England
and Wales (one-off holidays and substitute days included, as published by the holidays package).
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date, timedelta
from functools import cached_property, lru_cache
from importlib.machinery import PathFinder
from typing import Any

from dateutil.relativedelta import relativedelta

ONE_DAY = timedelta(days=1)
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)  # the span the calendar covers


class WorkingCalendar:
    """Weekends and the bank holidays of England and Wales are not working days.

    Working days are counted with a running total per day, in one table per year (built when a
    date of that year is first asked about), so counting across months costs the same as across
    a day, and a command that asks about this year never builds the tables of earlier ones.
    """

    def __init__(self) -> None:
        # per year: its first day's ordinal, 1 for each working day, and the working days from
        # 1 January up to and including each day
        self._years: dict[int, tuple[int, bytearray, list[int]]] = {}
        self.add_working_days = lru_cache(maxsize=65536)(self._add_working_days)
        self.working_days_before = lru_cache(maxsize=65536)(self._working_days_before)
        self.on_or_after = lru_cache(maxsize=65536)(self._on_or_after)

    @cached_property
    def _bank_holidays(self) -> Any:
        """Loaded when a date is first asked about (a command that asks none never loads it)."""
        return england_and_wales_bank_holidays()

    def _is_working(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._bank_holidays

    def _year(self, day: date) -> tuple[int, bytearray, list[int]]:
        """The table of the day's year (built the first time the year is asked about)."""
        table = self._years.get(day.year)
        if table is not None:
            return table
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"dates before 2000 or after 2199 are not supported ({day})")
        first = date(day.year, 1, 1)
        working, totals, running = bytearray(), [], 0
        for offset in range(date(day.year, 12, 31).toordinal() - first.toordinal() + 1):
            works = self._is_working(first + timedelta(days=offset))
            running += works
            working.append(works)
            totals.append(running)
        table = (first.toordinal(), working, totals)
        self._years[day.year] = table  # (whole or not at all: another thread may read it)
        return table

    def _in_year(self, day: date) -> int:
        """Working days from 1 January of the day's year up to and including `day`."""
        first, _, totals = self._year(day)
        return totals[day.toordinal() - first]

    def _in_years(self, first: int, last: int) -> int:
        """Working days in the whole years `first` to `last` (none if last < first)."""
        return sum(self._year(date(year, 1, 1))[2][-1] for year in range(first, last + 1))

    def load_until(self, day: date) -> None:
        """Load the bank holidays and count the working days up to `day` now, rather than when
        a date is first asked about (a server does this before its first request)."""
        for year in range(FIRST_DAY.year, day.year + 1):
            self._year(date(year, 1, 1))

    def is_working_day(self, day: date) -> bool:
        first, working, _ = self._year(day)
        return bool(working[day.toordinal() - first])

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
        if end <= start:
            return 0
        upto_end, upto_start = self._in_year(end), self._in_year(start)
        if start.year == end.year:
            return upto_end - upto_start
        after_start = self._in_years(start.year, start.year) - upto_start
        return after_start + self._in_years(start.year + 1, end.year - 1) + upto_end

    def _on_or_after(self, day: date) -> date:
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


def england_and_wales_bank_holidays() -> Any:
    """`holidays.country_holidays("GB", subdiv="ENG")`, without importing every country.

    The holidays package finds "GB" by importing `holidays.countries`, which imports the modules
    of all its countries (most of a query command's start-up); here the United Kingdom's module
    is loaded alone and its `GB` made as country_holidays makes it. The module is registered
    under its own name, so a later import of `holidays.countries` takes it as it is (one class,
    not two). Should the package be laid out otherwise, country_holidays itself is asked.
    """
    import holidays  # (the package: its calendars, base classes and registry, no country)

    name = "holidays.countries.united_kingdom"
    module = sys.modules.get(name)
    if module is None:
        # (found as the import system finds it, without running holidays/countries/__init__.py)
        countries = PathFinder.find_spec("holidays.countries", holidays.__path__)
        where = countries and countries.submodule_search_locations
        spec = where and PathFinder.find_spec(name, list(where))
        if not spec or spec.loader is None:
            return holidays.country_holidays("GB", subdiv="ENG")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return module.GB(subdiv="ENG")
