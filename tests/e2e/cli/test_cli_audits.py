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


def test_sampling_the_programme_and_the_reports(tmp_path: Path) -> None:
    db = str(tmp_path / "p.db")
    ok(
        db,
        "simulate",
        "--episodes",
        "120",
        "--seed",
        "2",
        "--start",
        "2024-01-01",
        "--end",
        "2025-06-30",
    )
    sample = ok(db, "audit", "sample", "--size", "6", "--seed", "11").split()
    assert (
        len(sample) == 6
        and ok(db, "audit", "sample", "--size", "6", "--seed", "11").split() == sample
    )
    on = "2025-06-30"
    grades = ["Outstanding", "Good", "Good", "Requires Improvement"]
    for n, (episode, grade) in enumerate(zip(sample, grades, strict=False), start=1):
        ok(db, "audit", "assign", f"AU-{n}", "--episode", episode, "--scheme", "what_makes_good",
           "--auditor", "Kate Evans" if n < 4 else "Priya Shah", "--on", on)  # fmt: skip
        for section in ("assessment", "initial_meeting", "review_meetings", "outcomes"):
            ok(
                db,
                "audit",
                "score",
                f"AU-{n}",
                section,
                grade,
                "--evidence",
                "read the record",
                "--on",
                on,
            )
        ok(db, "audit", "complete", f"AU-{n}", "--on", on)
    ok(db, "audit", "assign", "AU-9", "--episode", sample[4], "--scheme", "st_helens", "--auditor", "Omar Ali",
       "--on", on)  # fmt: skip
    by_scheme = json.loads(ok(db, "audit", "report", "--by", "scheme", "--format", "json"))
    assert by_scheme == [{"scheme": "what_makes_good", "Outstanding": 1, "Good": 2, "Requires Improvement": 1,
                          "Inadequate": 0, "total": 4}]  # fmt: skip
    sections = json.loads(ok(db, "audit", "report", "--by", "section", "--format", "json"))
    outcomes = next(r for r in sections if r["section"] == "what_makes_good: outcomes")
    assert (outcomes["Outstanding"], outcomes["Good"], outcomes["Requires Improvement"]) == (
        1,
        2,
        1,
    )
    quarters = json.loads(ok(db, "audit", "report", "--by", "quarter", "--format", "json"))
    assert [q["quarter"] for q in quarters] == ["2025-Q2"]
    csv_text = ok(db, "audit", "report", "--by", "agency", "--format", "csv")
    assert (
        csv_text.splitlines()[0] == "agency,Outstanding,Good,Requires Improvement,Inadequate,total"
    )
    (tmp_path / "auditors.toml").write_text(
        '[auditors]\n"Kate Evans" = "partnership_coordinator"\n"Omar Ali" = "service_manager"\n'
        '[auditors."Priya Shah"]\nrole = "team_manager"\nworkers = 3\n'
    )
    behind = json.loads(ok(db, "audit", "programme", "--auditors", str(tmp_path / "auditors.toml"),
                           "--from", "2025-06-01", "--to", "2025-06-30", "--json"))  # fmt: skip
    assert {(b["auditor"], b["kind"], b["completed"], b["behind"]) for b in behind} == {
        ("Kate Evans", "detailed", 3, 0), ("Kate Evans", "one_to_one", 0, 1),
        ("Priya Shah", "detailed", 1, 1), ("Priya Shah", "brief", 0, 6), ("Omar Ali", "detailed", 0, 0.5),
    }  # fmt: skip
    assert (behind[0]["auditor"], behind[0]["kind"]) == ("Priya Shah", "brief")
    bad = ehqa(db, "audit", "report", "--by", "colour")
    assert bad.returncode == 2 and "group by one of scheme, agency, quarter, auditor" in bad.stderr


def test_grade_a_set_of_scores_without_recording_an_audit(tmp_path: Path) -> None:
    db = str(tmp_path / "g.db")
    scores = {f"A{n}": 2 for n in range(1, 21)} | {f"R{n}": 1 for n in range(1, 11)}  # Good and RI
    (tmp_path / "st.json").write_text(json.dumps({"scores": scores, "flags": {}}))
    text = ok(db, "grade", "st_helens", str(tmp_path / "st.json"))
    assert "assessment   Good" in text and "review       Requires Improvement" in text
    assert "overall      Requires Improvement" in text and "review section" in text  # two differ
    (tmp_path / "st3.json").write_text(json.dumps({"scores": {**scores, "closure": "Good"}}))
    assert "overall      Good" in ok(
        db, "grade", "st_helens", str(tmp_path / "st3.json")
    )  # majority
    (tmp_path / "wmg.json").write_text(json.dumps({"scores": {"assessment": "Outstanding", "initial_meeting": "Outstanding",
                                                              "review_meetings": "Outstanding", "outcomes": "Inadequate"}}))  # fmt: skip
    assert "Good (moderate: Good or Requires Improvement)" in ok(
        db, "grade", "what_makes_good", str(tmp_path / "wmg.json")
    )
    bad = ehqa(db, "grade", "st_helens", str(tmp_path / "wmg.json"))
    assert bad.returncode == 1 and "is not a whole-number score" in bad.stderr
