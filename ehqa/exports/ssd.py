"""The Standard Safeguarding Dataset's `ssd_early_help_episodes` table: one row per episode
opened by the day, with the table's own column names. Dates are ISO 8601 (YYYY-MM-DD: the
dataset's columns are SQL datetimes); the worker is the lead professional's stable subject, never
a display name. The rules and their sources: docs/exports.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ehqa.exports.facts import EpisodeFacts

HEADER = (
    "earl_episode_id", "earl_person_id", "earl_episode_start_date", "earl_episode_end_date",
    "earl_episode_reason", "earl_episode_end_reason", "earl_episode_organisation",
    "earl_episode_worker_id",
)  # fmt: skip
END_REASONS = {
    "outcomes_achieved": "Outcomes met",
    "stepped_up": "Step-up",
    "no_further_action": "NFA",
    "transferred_out": "Transferred to another local authority",
    "consent_withdrawn": "Consent withdrawn",
    "consent_withheld": "Consent withheld",
    "disengaged": "Family disengaged",
}
NEEDS = {
    "education": "Education", "early_years": "Early years development",
    "health": "Mental and physical health", "substance_use": "Substance use",
    "relationships": "Family relationships", "safe_from_abuse": "Safe from abuse and exploitation",
    "crime": "Crime", "domestic_abuse": "Domestic abuse", "housing": "Housing",
    "finances": "Financial stability",
}  # fmt: skip


def iso(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def rows(facts: list[EpisodeFacts], day: date) -> Iterator[tuple[str, ...]]:
    for item in facts:
        lead = item.lead_on(item.closed_on or day)
        yield (
            item.reference,
            item.child,
            iso(item.opened_on),
            iso(item.closed_on),
            "; ".join(NEEDS.get(need, need) for need in item.needs),
            "" if item.closed_reason is None else END_REASONS.get(item.closed_reason, ""),
            lead.get("agency", ""),
            lead.get("subject", ""),
        )
