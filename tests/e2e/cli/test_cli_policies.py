"""`ehqa policy diff` and the st-helens-2022 preset, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import ehqa, ok


def test_policy_diff_shows_the_2022_assessment_timescale_one_line_per_difference(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "x.db")
    lines = ok(db, "policy", "diff", "st-helens", "st-helens-2022").splitlines()
    assert lines == [
        "title: St Helens Early Help standards (2022) with the QA framework (2018)"
        " -> St Helens Early Help standards (2022)",
        "clocks.assessment.label: Early Help assessment finalised"
        " -> Early Help assessment finalised (within 30 days)",
        "clocks.assessment.due: 20 working days -> 30 days",
        "clocks.assessment.source: QA framework item A1; standards: a pre-birth assessment has a"
        " longer timescale -> standards (2022): the assessment within 30 days, extended to 45 for"
        " a pre-birth assessment",
    ]  # the pre-birth 45 days, every other clock and the escalation are the same
    data = json.loads(ok(db, "policy", "diff", "st-helens", "st-helens-2022", "--json"))
    assert (data["a"], data["b"]) == ("st-helens", "st-helens-2022")
    assert {"field": "clocks.assessment.due", "a": {"working_days": 20}, "b": {"days": 30}} in data[
        "differences"
    ]
    assert len(data["differences"]) == 4
    assert ok(db, "policy", "diff", "bnes", "bnes") == "bnes and bnes do not differ\n"
    assert "st-helens-2022 " in ok(db, "policy", "list")


def test_policy_diff_covers_roll_forward_and_escalation_of_a_council_policy(tmp_path: Path) -> None:
    (tmp_path / "northtown.toml").write_text(
        'title = "Northtown"\nextends = "st-helens-2022"\nroll_forward = false\n'
        "[clocks.child_seen]\nenabled = false\n"
        '[escalation]\nescalate_after_working_days = 5\ncoordinator = "Hub lead"\n'
    )
    db = str(tmp_path / "x.db")
    result = ehqa(
        db, "--policy-dir", str(tmp_path), "policy", "diff", "st-helens-2022", "northtown"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "title: St Helens Early Help standards (2022) -> Northtown",
        "roll_forward: true -> false",
        "clocks.child_seen.enabled: true -> false",
        "escalation.escalate_after_working_days: 10 -> 5",
        "escalation.coordinator: Partnership co-ordinator -> Hub lead",
    ]


def test_policy_diff_refuses_an_unknown_policy_naming_the_known_ones(tmp_path: Path) -> None:
    result = ehqa(str(tmp_path / "x.db"), "policy", "diff", "st-helens", "st-helen")
    assert result.returncode == 1
    assert result.stderr == (
        "error: unknown policy 'st-helen' (known: bnes, darlington, st-helens, st-helens-2022)\n"
    )
    assert result.stdout == ""


def test_audit_propose_shows_r8_not_applicable_for_a_single_agency_plan(tmp_path: Path) -> None:
    from .test_cli import EXAMPLE_LINES

    db = str(tmp_path / "x.db")
    (tmp_path / "episodes.jsonl").write_text("\n".join(EXAMPLE_LINES) + "\n")
    ok(db, "apply", str(tmp_path / "episodes.jsonl"))
    # EH-0002: a step-down whose single-agency plan was agreed on Fri 10 Oct 2025
    ok(db, "audit", "assign", "AU-2", "--episode", "EH-0002", "--scheme", "st_helens",
       "--auditor", "Kate Evans", "--on", "2025-11-20")  # fmt: skip
    text = ok(db, "audit", "propose", "AU-2")
    assert "R8: n/a\n" in text
    assert "single-agency plan agreed 2025-10-10: no Family Action Meeting by design" in text
    refused = ehqa(
        db, "audit", "score", "AU-2", "R8", "0", "--evidence", "no FAM", "--on", "2025-11-20"
    )
    assert refused.returncode == 1 and "R8 was proposed as n/a from the record" in refused.stderr
    ok(
        db,
        "audit",
        "score",
        "AU-2",
        "R8",
        "n/a",
        "--evidence",
        "single-agency plan",
        "--on",
        "2025-11-20",
    )
