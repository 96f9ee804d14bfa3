"""What the inspection lists need of each episode, as at a business date, from the read models.

The episodes view gives each episode's opening and closing; the timeline view its consent, its
assessment, its lead professionals and the needs recorded, each with its business date. Facts
dated after the day are left out, so an export as at a date is what had happened by then.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aggregates.episode import episode_id
from projections.queries import ReadModels

KINDS = ("Opened", "LeadChanged", "ConsentRecorded", "AssessmentFinalised", "NeedsRecorded")


@dataclass
class EpisodeFacts:
    reference: str
    child: str
    pre_birth: bool
    opened_on: date
    closed_on: date | None = None  # None while it is open (as at the day)
    closed_reason: str | None = None
    skips_assessment: bool = False  # a step-down with a recent social-care assessment
    consented_on: date | None = None  # the assessment starts with the family's consent
    assessed_on: date | None = None  # the assessment is finalised
    leads: list[tuple[date, dict[str, str]]] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)

    @property
    def assessment_started_on(self) -> date | None:
        return None if self.skips_assessment else self.consented_on

    def is_open(self) -> bool:
        return self.closed_on is None

    def lead_on(self, day: date) -> dict[str, str]:
        """The lead professional on a day (the first one, before the episode opened)."""
        found = self.leads[0][1] if self.leads else {}
        for since, lead in self.leads:
            if since <= day:
                found = lead
        return found


def episode_facts(read: ReadModels, day: date) -> list[EpisodeFacts]:
    """Every episode opened by `day`, as it stood on `day`, in the order they were opened."""
    rows = read.db.query(
        "SELECT reference, child, pre_birth, opened_on, closed_on, closed_reason"
        " FROM ehqa_episodes WHERE opened_on <= ? ORDER BY opened_seq",
        (day.isoformat(),),
    )
    found: dict[str, EpisodeFacts] = {}
    for reference, child, pre_birth, opened, closed, reason in rows:
        item = EpisodeFacts(reference, child, bool(pre_birth), date.fromisoformat(opened))
        if closed is not None and date.fromisoformat(closed) <= day:
            item.closed_on, item.closed_reason = date.fromisoformat(closed), reason
        found[episode_id(reference).hex] = item
    marks = ", ".join("?" for _ in KINDS)
    for ident, body in read.db.query(
        f"SELECT episode_id, body FROM ehqa_timeline WHERE event IN ({marks}) AND on_date <= ?"
        " ORDER BY on_date, version",
        (*KINDS, day.isoformat()),
    ):
        if ident in found:
            _apply(found[ident], json.loads(body))
    return list(found.values())


def _apply(item: EpisodeFacts, body: dict[str, Any]) -> None:
    on, kind = date.fromisoformat(body["on"]), body["event"]
    if kind == "Opened":
        item.skips_assessment = bool(body.get("recent_social_care_assessment"))
        item.leads.append((on, dict(body.get("lead") or {})))
    elif kind == "LeadChanged":
        item.leads.append((on, dict(body.get("lead") or {})))
    elif kind == "ConsentRecorded" and item.consented_on is None:
        item.consented_on = on
    elif kind == "AssessmentFinalised" and item.assessed_on is None:
        item.assessed_on = on
    elif kind == "NeedsRecorded":
        item.needs = list(body.get("needs") or [])
