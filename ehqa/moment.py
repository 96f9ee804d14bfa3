"""Moments of record time (`--known-at`, `known_at`): parsed and checked, and the business day
each falls on. Here alone, so that a command parses its options without loading the replay
(ehqa.known_at) that answers as known at a moment.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from ehqa.clock import LONDON

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class MomentError(ValueError):
    """A --known-at / known_at value that is not a moment ehqa can use."""


def parse_moment(text: str) -> datetime:
    """An ISO 8601 date and time (`2025-10-01T17:30`, `...Z`, `...+01:00`); without an offset it
    is Europe/London time. A bare date is refused: the moment within the day matters."""
    value = text.strip()
    if len(value) > 40:
        raise MomentError("a moment is at most 40 characters (e.g. 2025-10-01T17:30:00Z)")
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        raise MomentError(
            f"{text!r} has no time of day: give a moment, e.g. {day}T17:30 (Europe/London)"
            f" or {day}T16:30:00Z"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MomentError(f"{text!r} is not a moment (YYYY-MM-DDTHH:MM[:SS][+HH:MM|Z])") from None
    if moment.tzinfo is None:
        moment = _london(moment, text)
    moment = moment.astimezone(UTC)
    if not EARLIEST <= moment < LATEST:
        raise MomentError(f"{text!r} is outside {EARLIEST.year} to {LATEST.year - 1}")
    return moment


def _london(wall: datetime, text: str) -> datetime:
    """A wall-clock time in Europe/London, refused when the clocks make it name no moment (the
    hour skipped in spring) or two (the hour repeated in autumn): an offset says which."""
    first, second = wall.replace(tzinfo=LONDON, fold=0), wall.replace(tzinfo=LONDON, fold=1)
    if first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != wall:
        raise MomentError(
            f"{text!r} did not happen in Europe/London (the clocks went forward that hour):"
            " give a moment with an offset, e.g. ...T01:30:00Z"
        )
    if first.utcoffset() != second.utcoffset():
        raise MomentError(
            f"{text!r} happened twice in Europe/London (the clocks went back that hour): give"
            f" the offset, {wall.isoformat()}+01:00 (the first) or {wall.isoformat()}+00:00"
            " (the second)"
        )
    return first


def london_date(moment: datetime) -> date:
    """The business day a moment falls on (the default as-at date of a read known at it)."""
    return moment.astimezone(LONDON).date()
