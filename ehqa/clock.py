"""Today's date: the wall clock in Europe/London in production, a fixed date for tests and
`--as-at` runs. The domain never reads it; the application passes "today" in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], date]
LONDON = ZoneInfo("Europe/London")


def london_today() -> date:
    return datetime.now(LONDON).date()


def fixed(day: date) -> Clock:
    return lambda: day


def from_environment() -> Clock:
    """A fixed date from EHQA_TODAY (YYYY-MM-DD) when it is set, otherwise the wall clock."""
    from ehqa.settings import load

    today = load().today
    return london_today if today is None else fixed(today)
