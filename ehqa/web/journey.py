"""The journey picture: an episode's clocks and events drawn as SVG on the server.

Pure functions from what the read models give (the episode's clock entries as at a date, its
timeline, its alerts) to one SVG document: no browser script, no assets, nothing fetched. Each
clock is a bar from its start to its due date, its end marked (on time, late with or without a
recorded reason, missed, ended by the closure, or still running, overdue or not); the events
are markers on the business-date axis (exceptions and alerts as markers of their own); today
and the as-at date are vertical lines. Every mark carries its words: a visible label beside
each bar, a `<title>` on every marker, and the whole has `role="img"`, a title and a
description (`aria-labelledby`), so a screen reader announces what a sighted reader sees. The
text timeline beneath the picture on the episode page says it all again, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from aggregates.clocks import ClockEntry, Status

WIDTH, LABELS, ROW, TOP, PAD = 980, 300, 26, 78, 16
# Colours with at least 4.5:1 contrast on white; every state also has its own shape and words.
COLOURS = {
    "on-time": "#00703c", "late": "#b45200", "late-with-reason": "#6f4a00", "missed": "#b10e1e",
    "overdue": "#b10e1e", "running": "#1d4f91", "ended": "#505a5f",
}  # fmt: skip
WORDS = {
    "on-time": "on time", "late": "late, no reason recorded", "late-with-reason": "late, reason recorded",
    "missed": "missed (the episode closed after it fell due)", "overdue": "running, overdue",
    "running": "running", "ended": "ended when the episode closed",
}  # fmt: skip


@dataclass(frozen=True)
class Drawn:
    """One clock occurrence as the picture shows it."""

    entry: ClockEntry
    kind: str  # a key of WORDS
    ended_on: date | None  # when it stopped, or when the closure ended it

    @property
    def name(self) -> str:
        clock = self.entry.clock.value.replace("_", " ")
        more = f" ({self.entry.occurrence})" if self.entry.occurrence > 1 else ""
        return f"{clock[0].upper()}{clock[1:]}{more}"

    @property
    def words(self) -> str:
        e, said = self.entry, WORDS[self.kind]
        if self.kind in ("late", "late-with-reason", "missed", "overdue") and e.working_days_late:
            said += (
                f", {e.working_days_late} working day{'s' if e.working_days_late != 1 else ''} late"
            )
        if self.kind == "late-with-reason":
            said += f": {e.exception}"
        return said


def kind_of(entry: ClockEntry) -> str:
    """How a clock occurrence ended (or did not yet), in the picture's words."""
    if entry.status is Status.MET:
        return "on-time"
    if entry.status is Status.LATE:
        return "late-with-reason" if entry.exception else "late"
    return {Status.MISSED: "missed", Status.CANCELLED: "ended", Status.OVERDUE: "overdue"}.get(
        entry.status, "running"
    )


def drawn(entries: Sequence[ClockEntry], closed_on: date | None) -> list[Drawn]:
    found = []
    for e in entries:
        ended = e.stopped_on or (
            closed_on if e.status in (Status.MISSED, Status.CANCELLED) else None
        )
        found.append(Drawn(e, kind_of(e), ended))
    return found


class _Axis:
    def __init__(self, first: date, last: date) -> None:
        self.first, self.days = first, max((last - first).days, 1)

    def x(self, day: date) -> float:
        return round(LABELS + (WIDTH - LABELS - PAD) * (day - self.first).days / self.days, 1)


def _months(first: date, last: date) -> list[date]:
    day, found = date(first.year, first.month, 1), []
    while day <= last:
        if day >= first:
            found.append(day)
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    step = max(1, len(found) // 10)
    return found[::step]


def _text(x: float, y: float, words: str, **attrs: Any) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
    return f"<text x='{x}' y='{y}'{extra}>{escape(words)}</text>"


def _clock_row(d: Drawn, axis: _Axis, y: float, as_at: date) -> str:
    e, colour = d.entry, COLOURS[d.kind]
    start, due = axis.x(e.started_on), axis.x(e.due_on)
    title = (f"{d.name}: started {e.started_on}, due {e.due_on}"
             + (f", ended {d.ended_on}" if d.ended_on else "") + f"; {d.words}")  # fmt: skip
    parts = [
        f"<g class='clock' data-clock={quoteattr(e.clock.value)} data-occurrence='{e.occurrence}'"
        f" data-status={quoteattr(d.kind)}><title>{escape(title)}</title>",
        _text(8, y + 5, f"{d.name}: {WORDS[d.kind]}", font_size="12", fill="#0b0c0c"),
        f"<rect x='{start}' y='{y - 5}' width='{max(due - start, 2)}' height='10'"
        f" fill={quoteattr(colour)} fill-opacity='0.25' stroke={quoteattr(colour)}/>",
    ]
    if d.kind == "overdue":  # the overrun, from the due date to the as-at date
        parts.append(f"<line x1='{due}' y1='{y}' x2='{axis.x(as_at)}' y2='{y}'"
                     f" stroke={quoteattr(colour)} stroke-width='3' stroke-dasharray='4 2'/>")  # fmt: skip
    if d.ended_on is not None:
        x = axis.x(d.ended_on)
        if d.kind != "on-time":
            parts.append(f"<line x1='{due}' y1='{y}' x2='{x}' y2='{y}' stroke={quoteattr(colour)}"
                         " stroke-width='3'/>")  # fmt: skip
        parts.append(_stop_mark(d.kind, x, y, colour))
    parts.append("</g>")
    return "".join(parts)


def _stop_mark(kind: str, x: float, y: float, colour: str) -> str:
    fill = quoteattr(colour)
    if kind == "on-time":  # a circle
        return f"<circle class='stop' cx='{x}' cy='{y}' r='6' fill={fill}/>"
    if kind in ("late", "late-with-reason"):  # a triangle (with a bar when a reason is recorded)
        mark = (
            f"<path class='stop' d='M{x - 6},{y + 6} L{x},{y - 7} L{x + 6},{y + 6} Z' fill={fill}/>"
        )
        if kind == "late-with-reason":
            mark += f"<line x1='{x - 7}' y1='{y + 9}' x2='{x + 7}' y2='{y + 9}' stroke={fill} stroke-width='2'/>"
        return mark
    # missed or ended by the closure: a cross
    return (f"<path class='stop' d='M{x - 5},{y - 5} L{x + 5},{y + 5} M{x - 5},{y + 5} L{x + 5},{y - 5}'"
            f" stroke={fill} stroke-width='3'/>")  # fmt: skip


def _marker(on: date, axis: _Axis, y: float, words: str, kind: str) -> str:
    x = axis.x(on)
    shape = {
        "event": f"<rect x='{x - 4}' y='{y - 4}' width='8' height='8' fill='#0b0c0c'/>",
        "exception": f"<path d='M{x},{y - 7} L{x + 7},{y} L{x},{y + 7} L{x - 7},{y} Z' fill='#6f4a00'/>",
        "alert": f"<path d='M{x - 6},{y + 6} L{x},{y - 7} L{x + 6},{y + 6} Z' fill='#b10e1e'/>",
    }[kind]
    return f"<g class={quoteattr(kind)} data-on='{on}'><title>{escape(f'{on}: {words}')}</title>{shape}</g>"


def _line(day: date, axis: _Axis, bottom: float, words: str, colour: str, dash: str,
          y: float = TOP - 22) -> str:  # fmt: skip
    x = axis.x(day)
    return (f"<g class='date-line'><title>{escape(words)}</title><line x1='{x}' y1='{TOP - 18}' x2='{x}'"
            f" y2='{bottom}' stroke='{colour}' stroke-width='2' stroke-dasharray='{dash}'/>"
            + _end_text(x, y, words, colour) + "</g>")  # fmt: skip


def _end_text(x: float, y: float, words: str, colour: str) -> str:
    """A label beside `x`: after it, or before it when it would run off the right edge."""
    if x + 7 * len(words) > WIDTH:
        return _text(x - 3, y, words, font_size="11", fill=colour, text_anchor="end")
    return _text(x + 3, y, words, font_size="11", fill=colour)


def picture(
    reference: str,
    entries: Sequence[ClockEntry],
    events: Sequence[dict[str, Any]],
    alerts: Sequence[dict[str, Any]],
    *,
    today: date,
    as_at: date,
    closed_on: date | None = None,
    ident: str = "journey",
) -> str:
    """The journey picture of one episode as an SVG document (`ident` prefixes its ids, so that
    it can sit inline in a page)."""
    clocks = drawn(entries, closed_on)
    dates = [as_at, today, *(date.fromisoformat(str(e["on"])) for e in events)]
    for d in clocks:
        dates += [d.entry.started_on, d.entry.due_on, *([d.ended_on] if d.ended_on else [])]
    first, last = min(dates) - timedelta(days=3), max(dates) + timedelta(days=3)
    axis = _Axis(first, last)
    height = TOP + ROW * (len(clocks) + 2) + 24
    bottom = height - 18
    rows_y = [TOP + ROW * (n + 2) for n in range(len(clocks))]
    counts: dict[str, int] = {}
    for d in clocks:
        counts[WORDS[d.kind]] = counts.get(WORDS[d.kind], 0) + 1
    summary = "; ".join(f"{n} {words}" for words, n in counts.items()) or "no clocks yet"
    desc = (f"{len(clocks)} clock{'s' if len(clocks) != 1 else ''} as at {as_at}: {summary}."
            f" {len(events)} events and {len(alerts)} alerts marked on the business-date axis.")  # fmt: skip
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH} {height}' width='{WIDTH}'"
        f" height='{height}' role='img' aria-labelledby='{ident}-title {ident}-desc'"
        " font-family='Arial, Helvetica, sans-serif' class='journey'>",
        f"<title id='{ident}-title'>{escape(f'Journey of episode {reference}')}</title>",
        f"<desc id='{ident}-desc'>{escape(desc)}</desc>",
        f"<rect width='{WIDTH}' height='{height}' fill='#ffffff'/>",
    ]
    for month in _months(first, last):
        x = axis.x(month)
        out.append(f"<line x1='{x}' y1='{TOP - 8}' x2='{x}' y2='{bottom}' stroke='#b1b4b6'/>")
        out.append(
            _text(x + 2, bottom + 14, month.strftime("%b %Y"), font_size="11", fill="#0b0c0c")
        )
    out.append(_text(8, TOP + 5, "Events (exceptions as diamonds)", font_size="12", fill="#0b0c0c"))
    for event in events:
        kind = "exception" if event.get("event") == "ExceptionRecorded" else "event"
        words = str(event.get("label") or event.get("event"))
        out.append(_marker(date.fromisoformat(str(event["on"])), axis, TOP, words, kind))
    out.append(_text(8, TOP + ROW + 5, "Alerts", font_size="12", fill="#0b0c0c"))
    for alert in alerts:
        words = (f"alert {alert['rung'].replace('_', ' ')} on {alert['clock'].replace('_', ' ')}"
                 f" (fell due {alert['fell_due_on']})"
                 + (f", acknowledged by {alert['acknowledged_by']}"
                    if alert.get("acknowledged_by") else ""))  # fmt: skip
        out.append(
            _marker(date.fromisoformat(str(alert["raised_on"])), axis, TOP + ROW, words, "alert")
        )
    for d, y in zip(clocks, rows_y, strict=True):
        out.append(_clock_row(d, axis, y, as_at))
    out.append(_line(today, axis, bottom, f"today {today}", "#0b0c0c", "2 2"))
    if as_at != today:
        out.append(_line(as_at, axis, bottom, f"as at {as_at}", "#4c2c92", "6 3", TOP - 36))
    out.append("</svg>")
    return "\n".join(out)
