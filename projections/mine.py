"""A person's own open episodes (those they lead, by their stable subject), from the episodes
view: for "My caseload"."""

from __future__ import annotations

from typing import Any

from projections.db import ViewDatabase
from projections.queries import episode_json

MINE_MAX = 2_000  # a lead professional's caseload is tens of episodes: a bound, not a page


def open_episodes_led_by(db: ViewDatabase, subject: str) -> list[dict[str, Any]]:
    """The open episodes whose lead is `subject` (never matched by name), oldest first."""
    rows = db.query(
        "SELECT reference, child, state, lead_name, lead_agency, lead_subject, policy, origin,"
        " pre_birth, opened_on, consent_agencies, closed_on, closed_reason, closure_summary,"
        " version FROM ehqa_episodes WHERE lead_subject = ? AND closed_on IS NULL"
        f" ORDER BY opened_seq LIMIT {MINE_MAX}",
        (subject,),
    )
    return [episode_json(row) for row in rows]
