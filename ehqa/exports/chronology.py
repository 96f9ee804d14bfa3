"""One episode's chronology as the record stood at a moment: every fact with its business date,
when it was recorded and by whom; its clocks, alerts, exceptions and audits. As HTML (Jinja2,
every value escaped) or PDF (ehqa.exports.pdf)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ehqa.clock import LONDON
from ehqa.known_at import episode_views, london_date
from ehqa.services import Services

_TEMPLATES = Environment(
    loader=PackageLoader("ehqa.exports", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


@dataclass(frozen=True)
class Chronology:
    reference: str
    known_at: datetime
    as_at: date
    episode: dict[str, Any] | None  # None: not yet recorded at the moment
    facts: list[dict[str, Any]]  # on, recorded (London time), author, event, label
    clocks: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    audits: list[dict[str, Any]] | None  # None: not shown to the caller (an agency role)

    @property
    def exceptions(self) -> list[dict[str, Any]]:
        return [f for f in self.facts if f["event"] == "ExceptionRecorded"]


def local_time(text: str | None) -> str:
    """A recorded time as Europe/London wall-clock time, to the second."""
    if not text:
        return ""
    return datetime.fromisoformat(text).astimezone(LONDON).strftime("%Y-%m-%d %H:%M:%S %Z")


def chronology(
    services: Services,
    reference: str,
    moment: datetime | None,
    today: date,
    audits: bool = True,
    alerts_to: str | None = None,
) -> Chronology:
    """The chronology as known at `moment` (default: now, with the clocks as at `today`);
    without `audits`, the episode's audits and their alerts are left out (the API shows
    audits to authority-wide roles only)."""
    when = moment or datetime.now(UTC)
    day = today if moment is None else london_date(moment)
    with episode_views(services, reference, when, audits=audits) as read:
        summary = read.episode(reference)
        items = read.timeline(reference, milestones=True, as_at=day) if summary else []
        clocks = read.deadlines(reference, day)
        found = read.audits() if audits else []
        refs = {reference, *(a["audit"] for a in found)}
        # (with `alerts_to`, an agency caller's: the alerts of the episodes they lead, as the
        # API's /alerts shows them)
        shown = read.alerts(day, alerts_to, include_cleared=True)
        alerts = [a for a in shown if a["episode"] in refs]
    facts = [
        {"on": i["on"], "recorded": local_time(i.get("recorded_at")), "event": i["event"],
         "author": i.get("author") or "not recorded", "label": i["label"]}
        for i in items if i["event"] != "ClockDue"
    ]  # fmt: skip
    return Chronology(
        reference, when, day, summary, facts,
        [{"clock": r.entry.clock.value, "occurrence": r.entry.occurrence,
          "started_on": r.entry.started_on, "due_on": r.entry.due_on,
          "stopped_on": r.entry.stopped_on or "", "status": r.entry.status.value,
          "late": r.entry.working_days_late, "exception": r.entry.exception or ""}
         for r in clocks],
        alerts, found if audits else None,
    )  # fmt: skip


def to_html(found: Chronology) -> str:
    return _TEMPLATES.get_template("chronology.html").render(
        c=found, known=local_time(found.known_at.isoformat())
    )
