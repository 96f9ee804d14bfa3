"""The command-line contract, run as a user runs it: a separate process on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[3] / "docs" / "examples" / "episodes.jsonl"
EXAMPLE_LINES = [
    '{"cmd":"open","episode":"EH-0001","on":"2025-09-01","child":"C-1001","lead":{"name":"Jo Bright","agency":"primary_school"}}',
    '{"cmd":"record_consent","episode":"EH-0001","on":"2025-09-02","agencies":["primary_school","health_visiting"]}',
    '{"cmd":"see_child","episode":"EH-0001","on":"2025-09-15"}',
    '{"cmd":"finalise_assessment","episode":"EH-0001","on":"2025-09-26"}',
    '{"cmd":"decide_fam","episode":"EH-0001","on":"2025-09-29"}',
    '{"cmd":"hold_fam","episode":"EH-0001","on":"2025-10-14"}',
    '{"cmd":"circulate_plan","episode":"EH-0001","on":"2025-10-20"}',
    '{"cmd":"hold_review","episode":"EH-0001","on":"2025-11-12","plan_changed":true}',
    '{"cmd":"open","episode":"EH-0002","on":"2025-10-06","child":"C-1002","origin":"step_down","recent_social_care_assessment":true,"lead":{"name":"Ravi Kumar","agency":"early_help_team"}}',
    '{"cmd":"record_consent","episode":"EH-0002","on":"2025-10-07","agencies":["early_help_team"]}',
    '{"cmd":"agree_single_agency_plan","episode":"EH-0002","on":"2025-10-10"}',
    '{"cmd":"open","episode":"EH-0003","on":"2025-11-03","child":"C-1003","pre_birth":true,"lead":{"name":"Ann Cole","agency":"midwifery"}}',
    '{"cmd":"record_consent","episode":"EH-0003","on":"2025-11-04","agencies":["midwifery"]}',
    '{"cmd":"step_up","episode":"EH-0003","on":"2025-11-20","level":4}',
    '{"cmd":"record_mash_outcome","episode":"EH-0003","on":"2025-11-21","level":4}',
]


def ehqa(
    db: str, *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ehqa", "--db", db, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def ok(db: str, *args: str, stdin: str | None = None) -> str:
    result = ehqa(db, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def as_json(db: str, *args: str) -> Any:
    return json.loads(ok(db, *args, "--json"))


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    path = tmp_path / "episodes.jsonl"
    path.write_text("\n".join(EXAMPLE_LINES) + "\n")
    return path


def test_the_example_history_in_the_docs_is_the_one_these_tests_use() -> None:
    assert [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()] == [
        json.loads(line) for line in EXAMPLE_LINES
    ]


def test_apply_then_query_an_episode(store_url: str, examples: Path) -> None:
    assert ok(store_url, "apply", str(examples)).strip() == "applied 15 command(s)"
    episode = as_json(store_url, "episode", "EH-0001")
    assert episode["episode"] == "EH-0001"
    assert episode["child"] == "C-1001"
    assert episode["state"] == "plan_active"
    assert episode["lead"] == {"name": "Jo Bright", "agency": "primary_school"}
    assert episode["policy"] == "st-helens"
    assert episode["closed_reason"] is None
    stepped_up = as_json(store_url, "episode", "EH-0003")
    assert (stepped_up["state"], stepped_up["closed_reason"]) == ("closed", "stepped_up")
    assert as_json(store_url, "episode", "EH-0002")["state"] == "plan_active"


def test_deadlines_as_at_a_date(store_url: str, examples: Path) -> None:
    ok(store_url, "apply", str(examples))
    rows = as_json(store_url, "deadlines", "--episode", "EH-0001", "--as-at", "2025-11-20")
    table = [
        (
            r["clock"],
            r["started_on"],
            r["due_on"],
            r["stopped_on"],
            r["status"],
            r["working_days_late"],
        )
        for r in rows
    ]
    assert sorted(table) == sorted(
        [
            ("assessment", "2025-09-02", "2025-09-30", "2025-09-26", "met", 0),
            ("child_seen", "2025-09-02", "2025-09-30", "2025-09-15", "met", 0),
            ("child_seen", "2025-09-15", "2025-10-13", None, "overdue", 28),
            ("long_running", "2025-09-02", "2026-03-02", None, "pending", 0),
            ("fam", "2025-09-29", "2025-10-20", "2025-10-14", "met", 0),
            ("plan_circulation", "2025-10-14", "2025-10-28", "2025-10-20", "met", 0),
            ("first_review", "2025-10-14", "2025-11-14", "2025-11-12", "met", 0),
            ("next_review", "2025-11-12", "2026-02-12", None, "pending", 0),
            ("modified_plan_circulation", "2025-11-12", "2025-11-27", None, "pending", 0),
        ]
    )
    assert all(r["episode"] == "EH-0001" and r["exception"] is None for r in rows)
    everything = as_json(store_url, "deadlines", "--as-at", "2025-11-21")
    assert {r["episode"] for r in everything} == {"EH-0001", "EH-0002", "EH-0003"}
    pre_birth = {r["clock"]: r for r in everything if r["episode"] == "EH-0003"}
    assert (pre_birth["assessment"]["due_on"], pre_birth["assessment"]["status"]) == (
        "2025-12-19",
        "cancelled",
    )
    assert "child_seen" not in pre_birth


def test_deadlines_as_a_readable_table(store_url: str, examples: Path) -> None:
    ok(store_url, "apply", str(examples))
    text = ok(store_url, "deadlines", "--episode", "EH-0002", "--as-at", "2025-11-20")
    header, *lines = text.splitlines()
    assert header.split()[:3] == ["episode", "clock", "#"]
    assert any(line.split()[1] == "first_review" and "overdue" in line for line in lines)


def test_the_timeline_lists_events_in_business_date_order(store_url: str, examples: Path) -> None:
    ok(store_url, "apply", str(examples))
    timeline = as_json(store_url, "timeline", "EH-0001")
    assert [i["event"] for i in timeline] == [
        "Opened",
        "ConsentRecorded",
        "ChildSeen",
        "AssessmentFinalised",
        "FamDecided",
        "FamHeld",
        "PlanCirculated",
        "ReviewHeld",
    ]
    assert timeline[-1]["plan_changed"] is True
    assert all({"on", "recorded_at", "event"} <= set(item) for item in timeline)


def test_a_refused_line_is_named_and_nothing_is_recorded(store_url: str) -> None:
    lines = [
        *EXAMPLE_LINES[:3],
        '{"cmd":"hold_review","episode":"EH-0001","on":"2025-09-20"}',
        EXAMPLE_LINES[3],
    ]
    result = ehqa(store_url, "apply", "-", stdin="\n".join(lines))
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("line 4: cannot hold a review")
    assert ehqa(store_url, "timeline", "EH-0001").stderr.strip() == "error: no episode EH-0001"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not valid JSON"),
        (
            '{"cmd":"dance","episode":"E","on":"2025-01-01"}',
            "line 1: field 'cmd': unknown command 'dance'",
        ),
        ('{"cmd":"see_child","episode":"E","on":"2025-02-30"}', "line 1: field 'on'"),
        (
            '{"cmd":"open","episode":"E","on":"2025-01-01","child":"C","lead":{"name":"A"}}',
            "line 1: field 'lead.agency'",
        ),
        ('{"cmd":"step_up","episode":"E","on":"2025-01-01","level":2}', "line 1: field 'level'"),
        (
            '{"cmd":"see_child","episode":"E","on":"2025-01-01","colour":"red"}',
            "line 1: field 'colour'",
        ),
        ('{"cmd":"see_child","episode":"NOPE","on":"2025-01-01"}', "line 1: no episode NOPE"),
        (
            '{"cmd":"open","episode":"E","on":"2999-01-01","child":"C","lead":{"name":"A","agency":"B"}}',
            "line 1: the referral date 2999-01-01 is in the future",
        ),
    ],
)
def test_bad_input_names_the_line_and_field_and_records_nothing(
    sqlite_url: str, line: str, message: str
) -> None:
    result = ehqa(sqlite_url, "apply", "-", stdin=line + "\n")
    assert result.returncode == 1
    assert result.stderr.startswith(message), result.stderr
    assert ok(sqlite_url, "deadlines", "--json").strip() == "[]"


def test_the_one_open_episode_rule_names_the_open_episode(store_url: str, examples: Path) -> None:
    ok(store_url, "apply", str(examples))
    line = '{"cmd":"open","episode":"EH-0099","on":"2025-11-01","child":"C-1001","lead":{"name":"A","agency":"B"}}'
    result = ehqa(store_url, "apply", "-", stdin=line)
    assert result.returncode == 1
    assert "child C-1001 already has an open episode, EH-0001" in result.stderr


def test_queries_on_an_unknown_episode_fail_clearly(sqlite_url: str) -> None:
    result = ehqa(sqlite_url, "episode", "EH-404", "--json")
    assert (result.returncode, result.stderr.strip()) == (1, "error: no episode EH-404")


def test_a_bad_database_url_and_a_bad_date_are_usage_errors(tmp_path: Path) -> None:
    result = ehqa("mysql://x/y", "deadlines")
    assert result.returncode == 2 and "neither a SQLite file nor postgresql://" in result.stderr
    result = ehqa(str(tmp_path / "x.db"), "deadlines", "--as-at", "yesterday")
    assert result.returncode == 2 and "--as-at: 'yesterday' is not a date" in result.stderr


def test_the_database_url_can_come_from_the_environment(tmp_path: Path, examples: Path) -> None:
    db = tmp_path / "env.db"
    result = subprocess.run(
        [sys.executable, "-m", "ehqa", "apply", str(examples)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EHQA_DATABASE_URL": str(db)},
    )
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_the_default_store_is_ehqa_db_in_the_current_directory(
    tmp_path: Path, examples: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ehqa", "apply", str(examples)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ehqa.db").exists()


def test_policy_show_prints_the_effective_policy(tmp_path: Path) -> None:
    text = ok(str(tmp_path / "x.db"), "policy", "show", "bnes")
    assert "extends: st-helens" in text
    assert any(line.split()[:3] == ["first_review", "12", "weeks"] for line in text.splitlines())
    data = json.loads(ok(str(tmp_path / "x.db"), "policy", "show", "darlington", "--json"))
    assert data["clocks"]["assessment"]["due"] == {"working_days": 20}
    result = ehqa(str(tmp_path / "x.db"), "policy", "show", "nowhere")
    assert result.returncode == 1 and "unknown policy 'nowhere'" in result.stderr


def test_demo_builds_a_caseload_once_and_shows_where_each_episode_stands(store_url: str) -> None:
    first = ok(store_url, "demo")
    assert "created 7 demo episodes" in first
    assert "DEMO-0002" in first and "assessment" in first
    again = ok(store_url, "demo")
    assert "already present: 7 demo episodes" in again
    assert as_json(store_url, "episode", "DEMO-0005")["closed_reason"] == "stepped_up"


def test_apply_shows_progress_on_a_terminal_and_not_when_piped(tmp_path: Path) -> None:
    import pty

    lines = [
        json.dumps(
            {
                "cmd": "open",
                "episode": f"EH-{n}",
                "on": "2025-01-02",
                "child": f"C-{n}",
                "lead": {"name": "A", "agency": "B"},
            }
        )
        for n in range(200)
    ]
    source = tmp_path / "many.jsonl"
    source.write_text("\n".join(lines) + "\n")
    leader, follower = pty.openpty()
    result = subprocess.run(
        [sys.executable, "-m", "ehqa", "--db", str(tmp_path / "tty.db"), "apply", str(source)],
        stderr=follower,
        stdout=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert result.returncode == 0
    assert b"applying" in shown and b"100%" in shown
    piped = ehqa(str(tmp_path / "piped.db"), "apply", str(source))
    assert "applying" not in piped.stderr
