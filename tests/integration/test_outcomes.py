"""Supporting Families outcomes on both stores: the six-month sustained clock climbs the alert
ladder through the sweep once, after the episode closed; and the claims report of a hand-made
caseload whose answer is known. Dates are worked by hand in the comments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from ehqa.clock import fixed
from ehqa.services import Services
from tests.integration.test_feedback_panel import opened, run, swept
from tests.integration.test_sweep import raised_events

D = date


def test_the_sustained_clock_climbs_the_ladder_once_after_the_closing(store_url: str) -> None:
    s = Services(store_url, clock=fixed(D(2025, 12, 31)))
    try:
        e = "SF-1"
        run(s, *opened(e, "bnes", D(2024, 1, 2), D(2024, 1, 3)),
            {"cmd": "record_needs", "episode": e, "on": D(2024, 1, 9),
             "needs": ["housing", "education", "finances"], "whole_family_assessment": True},
            {"cmd": "finalise_assessment", "episode": e, "on": D(2024, 1, 9)},
            {"cmd": "agree_single_agency_plan", "episode": e, "on": D(2024, 1, 10)},
            {"cmd": "close", "episode": e, "on": D(2024, 8, 31), "reason": "outcomes_achieved",
             "summary": "Housed; attending school"},
            {"cmd": "record_outcomes", "episode": e, "on": D(2024, 9, 2),
             "outcomes": {"housing": True, "education": True, "finances": False}})  # fmt: skip
        # Closed Sat 31 Aug 2024: six calendar months on is 31 Feb, clamped to Fri 28 Feb 2025
        # (a working day, so no roll forward). Due soon 3 working days before: Tue 25 Feb;
        # overdue the working day after: Mon 3 Mar; escalated 10 working days after the due
        # date: Fri 14 Mar.
        assert swept(s, D(2025, 2, 24), "outcomes") == []
        assert swept(s, D(2025, 2, 25), "outcomes") == ["SF-1/outcomes_sustained/1/due_soon"]
        assert swept(s, D(2025, 2, 28), "outcomes") == []
        assert swept(s, D(2025, 3, 3), "outcomes") == ["SF-1/outcomes_sustained/1/overdue"]
        assert swept(s, D(2025, 3, 13), "outcomes") == []
        assert swept(s, D(2025, 3, 14), "outcomes") == ["SF-1/outcomes_sustained/1/escalated"]
        assert swept(s, D(2025, 3, 14), "outcomes") == []
        run(s, {"cmd": "record_sustained_check", "episode": e, "on": D(2025, 3, 17),
                "sustained": {"housing": True, "education": True}})  # fmt: skip
        assert swept(s, D(2025, 6, 30), "outcomes") == []
        assert set(raised_events(s).values()) == {1}
        s.catch_up()
        alerts = [a for a in s.read.alerts(D(2025, 3, 17), include_cleared=True)
                  if "outcomes_sustained" in a["id"]]  # fmt: skip
        assert {a["cleared_on"] for a in alerts} == {"2025-03-17"} and len(alerts) == 3
        labels = [item["label"] for item in s.read.timeline(e, milestones=True)]
        assert "Needs identified: education, finances, housing; whole-family assessment" in labels
        assert "Outcomes six months on (education: sustained; housing: sustained)" in labels
    finally:
        s.close()


def test_outcomes_met_on_a_st_helens_episode_raise_no_sustained_alert(store_url: str) -> None:
    s = Services(store_url, clock=fixed(D(2025, 12, 31)))
    try:
        run(s, *opened("SH-1", "st-helens", D(2024, 1, 2), D(2024, 1, 3)),
            {"cmd": "record_needs", "episode": "SH-1", "on": D(2024, 1, 9), "needs": ["health"]},
            {"cmd": "close", "episode": "SH-1", "on": D(2024, 2, 1), "reason": "outcomes_achieved",
             "summary": "Done"},
            {"cmd": "record_outcomes", "episode": "SH-1", "on": D(2024, 2, 1),
             "outcomes": {"health": True}})  # fmt: skip
        assert swept(s, D(2024, 12, 31), "outcomes") == []
    finally:
        s.close()


def episode(
    ref: str,
    needs: list[str],
    *,
    whole_family: bool = True,
    plan: str | None = "single",
    closed: date,
    met: dict[str, bool],
    sustained: dict[str, bool] | None,
    checked: date | None,
) -> list[dict[str, Any]]:
    lines = [*opened(ref, "bnes", D(2024, 1, 2), D(2024, 1, 3)),
             {"cmd": "record_needs", "episode": ref, "on": D(2024, 1, 8), "needs": needs,
              "whole_family_assessment": whole_family},
             {"cmd": "finalise_assessment", "episode": ref, "on": D(2024, 1, 9)}]  # fmt: skip
    if plan == "single":
        lines.append({"cmd": "agree_single_agency_plan", "episode": ref, "on": D(2024, 1, 10)})
    elif plan == "fam":
        lines += [{"cmd": "decide_fam", "episode": ref, "on": D(2024, 1, 10)},
                  {"cmd": "hold_fam", "episode": ref, "on": D(2024, 1, 24)}]  # fmt: skip
    lines += [{"cmd": "close", "episode": ref, "on": closed, "reason": "outcomes_achieved",
               "summary": "Done"},
              {"cmd": "record_outcomes", "episode": ref, "on": closed, "outcomes": met}]  # fmt: skip
    if sustained is not None:
        lines.append({"cmd": "record_sustained_check", "episode": ref, "on": checked,
                      "sustained": sustained})  # fmt: skip
    return lines


def claims_caseload() -> list[dict[str, Any]]:
    """Eight families; for 2025-Q1 (checks 1 Jan to 31 Mar 2025) two can be claimed."""
    three = ["education", "health", "housing"]
    all_met = dict.fromkeys(three, True)
    return [
        # claimable: closed Sat 31 Aug 2024, checked Fri 28 Feb 2025 (six months: 28 Feb)
        *episode("A-OK", three, closed=D(2024, 8, 31), met=all_met, sustained=all_met,
                 checked=D(2025, 2, 28)),
        # claimable: a FAM, two of four needs met, both sustained; closed 15 Jul 2024, checked
        # Mon 20 Jan 2025 (six months: 15 Jan)
        *episode("B-OK", ["crime", "finances", "health", "relationships"], plan="fam",
                 closed=D(2024, 7, 15),
                 met={"crime": True, "finances": False, "health": True, "relationships": False},
                 sustained={"crime": True, "health": True}, checked=D(2025, 1, 20)),
        # not: two needs only
        *episode("C-FEW", ["health", "housing"], closed=D(2024, 8, 1),
                 met={"health": True, "housing": True},
                 sustained={"health": True, "housing": True}, checked=D(2025, 2, 3)),
        # not: no whole-family assessment
        *episode("D-WFA", three, whole_family=False, closed=D(2024, 8, 1), met=all_met,
                 sustained=all_met, checked=D(2025, 2, 3)),
        # not: no plan (closed after the assessment)
        *episode("E-PLAN", three, plan=None, closed=D(2024, 8, 1), met=all_met,
                 sustained=all_met, checked=D(2025, 2, 3)),
        # not: housing met at closure but not sustained
        *episode("F-LOST", three, closed=D(2024, 8, 1), met=all_met,
                 sustained={"education": True, "health": True, "housing": False},
                 checked=D(2025, 3, 31)),
        # not in 2025-Q1: closed 31 Oct 2024, checked Thu 1 May 2025 (2025-Q2), claimable there
        *episode("G-Q2", three, closed=D(2024, 10, 31), met=all_met, sustained=all_met,
                 checked=D(2025, 5, 1)),
        # not: nothing met at closure, so no check at all
        *episode("H-NONE", three, closed=D(2024, 8, 1), met=dict.fromkeys(three, False),
                 sustained=None, checked=None),
    ]  # fmt: skip


def test_the_claims_report_of_a_known_caseload(store_url: str, tmp_path: Path) -> None:
    source = tmp_path / "claims.jsonl"
    source.write_text("".join(json.dumps(line, default=str) + "\n" for line in claims_caseload()))
    env = {**os.environ, "EHQA_TODAY": "2025-12-31"}

    def ehqa(*args: str, code: int = 0) -> str:
        done = subprocess.run([sys.executable, "-m", "ehqa", "--db", store_url, *args],
                              capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert done.returncode == code, done.stderr
        return done.stdout

    ehqa("apply", str(source))
    report = json.loads(ehqa("claims", "report", "--quarter", "2025-Q1", "--json"))
    assert report["claimable"] == 2
    assert [(r["episode"], r["checked_on"], r["claimable"], r["reasons"])
            for r in report["episodes"]] == [
        ("A-OK", "2025-02-28", True, []),
        ("B-OK", "2025-01-20", True, []),
        ("C-FEW", "2025-02-03", False, ["fewer than 3 needs identified"]),
        ("D-WFA", "2025-02-03", False, ["no whole-family assessment"]),
        ("E-PLAN", "2025-02-03", False, ["no plan"]),
        ("F-LOST", "2025-03-31", False, ["not sustained: housing"]),
    ]  # fmt: skip
    assert ehqa("claims", "report", "--quarter", "2025-Q1", "--csv").splitlines() == [
        "episode,checked_on,needs,met,not_met,sustained",
        "A-OK,2025-02-28,education;health;housing,education;health;housing,,"
        "education;health;housing",
        "B-OK,2025-01-20,crime;finances;health;relationships,crime;health,"
        "finances;relationships,crime;health",
        "total,2,,,,",
    ]
    q2 = json.loads(ehqa("claims", "report", "--quarter", "2025-Q2", "--json"))
    assert [(r["episode"], r["claimable"]) for r in q2["episodes"]] == [("G-Q2", True)]
    assert "no sustained check fell in 2024-Q4" in ehqa("claims", "report", "--quarter", "2024-Q4")
    ehqa("claims", "report", "--quarter", "2025-Q5", code=2)
