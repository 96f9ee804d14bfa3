"""Today's date: the wall clock in Europe/London in production, a fixed date for tests and
`--as-at` runs. The domain never reads it; the application passes "today" in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

Clock = Callable[[], date]
LONDON = ZoneInfo("Europe/London")


def london_today() -> date:
    return datetime.now(LONDON).date()


@dataclass(frozen=True)
class fixed:
    """Always `day` (a value, not a closure: it pickles, for the sweep's own process)."""

    day: date

    def __call__(self) -> date:
        return self.day


def from_environment() -> Clock:
    """A fixed date from EHQA_TODAY (YYYY-MM-DD) when it is set, otherwise the wall clock."""
    from ehqa.settings import load

    today = load().today
    return london_today if today is None else fixed(today)
