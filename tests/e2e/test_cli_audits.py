"""An audit from the command line, as an auditor runs one."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import EXAMPLE_LINES, ehqa, ok


def test_an_audit_from_assignment_to_actions(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    (tmp_path / "episodes.jsonl").write_text("\n".join(EXAMPLE_LINES) + "\n")
    ok(db, "apply", str(tmp_path / "episodes.jsonl"))
    (tmp_path / "staff.toml").write_text('[managers]\n"Jo Bright" = "Priya Shah"\n')
    refused = ehqa(db, "audit", "assign", "AU-1", "--episode", "EH-0001", "--scheme", "st_helens",
                   "--auditor", "Priya Shah", "--staff", str(tmp_path / "staff.toml"), "--on", "2025-11-20")  # fmt: skip
    assert (
        refused.returncode == 1
        and "manages the lead professional of episode EH-0001" in refused.stderr
    )
    assert ehqa(db, "audit", "assign", "AU-1", "--episode", "EH-0001", "--scheme", "st_helens",
                "--auditor", "Jo Bright", "--on", "2025-11-20").returncode == 1  # fmt: skip
    ok(db, "audit", "assign", "AU-1", "--episode", "EH-0001", "--scheme", "st_helens", "--auditor", "Kate Evans",
       "--reason", "bi-monthly random sample", "--on", "2025-11-20")  # fmt: skip
    proposals = json.loads(ok(db, "audit", "propose", "AU-1", "--json"))
    assert proposals["A1"]["score"] == 2 and "assessment due 2025-09-30" in proposals["A1"]["facts"]
    assert proposals["R8"]["score"] == 2
    wrong = ehqa(
        db,
        "audit",
        "score",
        "AU-1",
        "A1",
        "3",
        "--evidence",
        "finalised early",
        "--on",
        "2025-11-20",
    )
    assert wrong.returncode == 1 and "A1 was proposed as 2 from the record" in wrong.stderr
    ok(
        db,
        "audit",
        "score",
        "AU-1",
        "A1",
        "2",
        "--evidence",
        "finalised 26 Sep",
        "--on",
        "2025-11-20",
    )
    bad = ehqa(db, "audit", "score", "AU-1", "A2", "3", "--evidence", "x", "--on", "2025-11-20")
    assert bad.returncode == 1 and "A2 is scored 0 not met, 1 partially met, 2 met" in bad.stderr
    ok(
        db,
        "audit",
        "concern",
        "AU-1",
        "--note",
        "Unexplained injury in case notes",
        "--on",
        "2025-11-20",
    )
    shown = json.loads(ok(db, "audit", "show", "AU-1", "--json"))
    assert shown["scores"]["A1"]["value"] == 2 and shown["concerns"][0]["note"].startswith(
        "Unexplained"
    )
    incomplete = ehqa(db, "audit", "complete", "AU-1", "--on", "2025-11-20")
    assert incomplete.returncode == 1 and "items not scored yet: A2" in incomplete.stderr
