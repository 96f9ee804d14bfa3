"""The read-model commands, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import EXAMPLE_LINES, as_json, ehqa, ok


def _examples(store_url: str, tmp_path: Path) -> None:
    path = tmp_path / "episodes.jsonl"
    path.write_text("\n".join(EXAMPLE_LINES) + "\n")
    ok(store_url, "apply", str(path))


def test_drift_lists_overdue_clocks_worst_first_with_filters(
    store_url: str, tmp_path: Path
) -> None:
    _examples(store_url, tmp_path)
    rows = as_json(store_url, "drift", "--as-at", "2025-11-20")
    assert [(r["episode"], r["clock"], r["working_days_late"]) for r in rows] == [
        ("EH-0001", "child_seen", 28),
        ("EH-0002", "child_seen", 12),
        ("EH-0002", "first_review", 8),
    ]
    assert rows[0]["lead"] == "Jo Bright" and rows[0]["agency"] == "primary_school"
    only = as_json(store_url, "drift", "--as-at", "2025-11-20", "--agency", "early_help_team")
    assert {r["episode"] for r in only} == {"EH-0002"}
    by_lead = as_json(store_url, "drift", "--as-at", "2025-11-20", "--lead", "Jo Bright")
    assert {r["episode"] for r in by_lead} == {"EH-0001"}
    soon = as_json(store_url, "drift", "--as-at", "2025-11-20", "--due-within", "5")
    assert [(r["episode"], r["clock"], r["due_on"]) for r in soon] == [
        ("EH-0001", "modified_plan_circulation", "2025-11-27")
    ]
    text = ok(store_url, "drift", "--as-at", "2025-09-01")
    assert text.strip() == "nothing overdue on 2025-09-01"


def test_caseload_per_lead_and_per_agency(store_url: str, tmp_path: Path) -> None:
    _examples(store_url, tmp_path)
    loads = as_json(store_url, "caseload", "--as-at", "2025-11-20")
    assert {(x["lead"], x["open_episodes"], x["overdue_clocks"]) for x in loads} == {
        ("Jo Bright", 1, 1),
        ("Ravi Kumar", 1, 2),
    }
    worst = next(x for x in loads if x["lead"] == "Ravi Kumar")["worst"]
    assert worst == {
        "episode": "EH-0002",
        "clock": "child_seen",
        "due_on": "2025-11-04",
        "working_days_late": 12,
    }
    agencies = as_json(store_url, "caseload", "--as-at", "2025-11-20", "--by-agency")
    assert {x["agency"] for x in agencies} == {"primary_school", "early_help_team"}
    assert "Ravi Kumar" in ok(store_url, "caseload")


def test_projection_status_catch_up_and_rebuild(store_url: str, tmp_path: Path) -> None:
    _examples(store_url, tmp_path)
    status = as_json(store_url, "projections", "status")
    assert {s["name"]: s["pending"] for s in status} == {
        "episodes": True,
        "timeline": True,
        "children": True,
        "outbox": False,
        "audits": False,
    }
    caught = ok(store_url, "projections", "catch-up")
    assert "episodes   applied 15 event(s)" in caught
    assert all(not s["pending"] for s in as_json(store_url, "projections", "status"))
    rebuilt = ok(store_url, "projections", "rebuild", "timeline")
    assert rebuilt.startswith("timeline   15 event(s) in") and "events/s" in rebuilt
    assert len(as_json(store_url, "timeline", "EH-0001")) == 8
    unknown = ehqa(store_url, "projections", "rebuild", "nonsense")
    assert unknown.returncode == 2 and "unknown view 'nonsense'" in unknown.stderr


def test_timeline_with_milestones_interleaves_clock_due_dates(
    store_url: str, tmp_path: Path
) -> None:
    _examples(store_url, tmp_path)
    items = as_json(store_url, "timeline", "EH-0001", "--milestones", "--as-at", "2025-11-20")
    dues = [(i["on"], i["clock"], i["status"]) for i in items if i["event"] == "ClockDue"]
    assert ("2025-10-13", "child_seen", "overdue") in dues
    assert [i["on"] for i in items] == sorted(i["on"] for i in items)
    assert all(i["label"] for i in items)
    text = ok(store_url, "timeline", "EH-0001")
    assert "2025-09-02  Consent recorded for health_visiting, primary_school" in text


def test_simulate_is_reproducible_and_refuses_a_repeated_seed(tmp_path: Path) -> None:
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    args = (
        "simulate",
        "--episodes",
        "40",
        "--seed",
        "5",
        "--start",
        "2024-01-01",
        "--end",
        "2025-12-31",
    )
    out = ok(first, *args)
    assert out.startswith("simulated 40 episodes")
    assert ok(second, *args) == out
    again = ehqa(first, *args)
    assert again.returncode == 1 and "seed 5 is already in this store" in again.stderr
    future = ehqa(first, "simulate", "--episodes", "1", "--seed", "6", "--end", "2150-01-01")
    assert future.returncode == 2 and "in the future" in future.stderr
    beyond = ehqa(first, "simulate", "--episodes", "1", "--seed", "6", "--end", "2999-01-01")
    assert beyond.returncode == 2 and "outside 2000-01-01 to 2199-12-31" in beyond.stderr
    deadlines = json.loads(ok(first, "deadlines", "--json", "--as-at", "2025-12-31"))
    assert json.loads(ok(second, "deadlines", "--json", "--as-at", "2025-12-31")) == deadlines
    live_order = str(tmp_path / "c.db")  # the same histories, saved as a live service records them
    assert ok(live_order, *args, "--interleaved") == out
    mixed = json.loads(ok(live_order, "deadlines", "--json", "--as-at", "2025-12-31"))
    assert sorted(mixed, key=repr) == sorted(deadlines, key=repr)  # (listed in log order)


def test_drift_pages_show_how_many_there_are(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    ok(
        db,
        "simulate",
        "--episodes",
        "80",
        "--seed",
        "3",
        "--start",
        "2024-01-01",
        "--end",
        "2025-12-31",
    )
    every = as_json(db, "drift", "--as-at", "2025-12-31")
    page = as_json(db, "drift", "--as-at", "2025-12-31", "--limit", "10")
    assert page == every[:10]
    text = ok(db, "drift", "--as-at", "2025-12-31", "--limit", "10")
    assert text.splitlines()[-1] == f"showing 10 of {len(every)}"
