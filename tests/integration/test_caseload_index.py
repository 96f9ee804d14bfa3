"""My caseload reads a lead professional's open episodes through an index on their subject,
not by reading every episode (checked on SQLite's plan)."""

from __future__ import annotations

from pathlib import Path

from projections.db import SQLiteViews
from projections.mine import MINE_MAX


def test_the_caseload_query_uses_the_open_lead_subject_index(tmp_path: Path) -> None:
    db = SQLiteViews(str(tmp_path / "views.db"))
    try:
        plan = db.query(
            "EXPLAIN QUERY PLAN SELECT reference FROM ehqa_episodes WHERE lead_subject = ?"
            f" AND closed_on IS NULL ORDER BY opened_seq LIMIT {MINE_MAX}",
            ("token:jo",),
        )
    finally:
        db.close()
    assert any("ehqa_episodes_open_lead_subject" in str(row) for row in plan), plan
