"""Two kinds of "as at": --as-at (business time) places a step on its business date; --known-at
(record time) leaves out a step recorded after the moment, whatever its date. Through the
command line (a separate process) and the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.services import Services

from .cli.test_cli import EXAMPLE_LINES, as_json, ehqa, ok

# EH-0001 up to the child seen; its assessment (finalised on 26 Sep) is recorded only later.
EARLY = EXAMPLE_LINES[:3]
LATE = '{"cmd":"finalise_assessment","episode":"EH-0001","on":"2025-09-26"}'


def moment() -> str:
    """Now, between two recordings (the clock moves on either side of it)."""
    time.sleep(0.05)
    now = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    return now


def apply(url: str, tmp_path: Path, name: str, *lines: str) -> None:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    ok(url, "apply", str(path))


@pytest.fixture
def recorded_late(store_url: str, tmp_path: Path) -> tuple[str, str]:
    """The store, and a moment before the assessment was recorded (late, on 26 Sep)."""
    apply(store_url, tmp_path, "early.jsonl", *EARLY)
    before = moment()
    apply(store_url, tmp_path, "late.jsonl", LATE)
    return store_url, before


def clock_status(rows: list[dict[str, Any]], clock: str) -> str:
    return next(r["status"] for r in rows if r["clock"] == clock)


def test_a_late_step_is_invisible_known_before_it_was_recorded(
    recorded_late: tuple[str, str],
) -> None:
    url, before = recorded_late
    assert as_json(url, "episode", "EH-0001", "--known-at", before)["state"] == "assessing"
    assert as_json(url, "episode", "EH-0001", "--known-at", moment())["state"] == "assessed"
    assert as_json(url, "episode", "EH-0001")["state"] == "assessed"
    then = as_json(url, "deadlines", "--episode", "EH-0001", "--as-at", "2025-10-01",
                   "--known-at", before)  # fmt: skip
    assert clock_status(then, "assessment") == "overdue"
    now = as_json(url, "deadlines", "--episode", "EH-0001", "--as-at", "2025-10-01")
    assert clock_status(now, "assessment") == "met"
    events = [e["event"] for e in as_json(url, "timeline", "EH-0001", "--known-at", before)]
    assert events == ["Opened", "ConsentRecorded", "ChildSeen"]
    late = as_json(url, "drift", "--as-at", "2025-10-01", "--known-at", before)
    assert [(r["episode"], r["clock"]) for r in late] == [("EH-0001", "assessment")]
    assert as_json(url, "drift", "--as-at", "2025-10-01") == []
    loads = as_json(url, "caseload", "--as-at", "2025-10-01", "--known-at", before)
    assert [(x["lead"], x["overdue_clocks"]) for x in loads] == [("Jo Bright", 1)]
    assert as_json(url, "caseload", "--as-at", "2025-10-01")[0]["overdue_clocks"] == 0


def test_as_at_places_the_late_step_on_its_business_date(recorded_late: tuple[str, str]) -> None:
    url, _ = recorded_late
    assert as_json(url, "episode", "EH-0001", "--as-at", "2025-09-25")["state"] == "assessing"
    assert as_json(url, "episode", "EH-0001", "--as-at", "2025-09-26")["state"] == "assessed"
    early = as_json(url, "timeline", "EH-0001", "--as-at", "2025-09-20")
    assert [e["event"] for e in early] == ["Opened", "ConsentRecorded", "ChildSeen"]
    dated = as_json(url, "timeline", "EH-0001", "--as-at", "2025-09-26")
    assert dated[-1]["event"] == "AssessmentFinalised"
    assert dated[-1]["on"] == "2025-09-26"


def test_alerts_known_at_a_moment_are_those_raised_by_then(
    recorded_late: tuple[str, str],
) -> None:
    url, _ = recorded_late
    ok(url, "sweep", "--as-at", "2025-10-20")
    swept = moment()
    assert as_json(url, "alerts", "--as-at", "2025-10-20", "--known-at", swept)
    before_sweep = datetime(2025, 1, 1, tzinfo=UTC).isoformat()
    assert as_json(url, "alerts", "--as-at", "2025-10-20", "--known-at", before_sweep) == []


def test_a_bad_moment_is_a_usage_error_naming_the_option(sqlite_url: str) -> None:
    for bad, says in (("2025-10-01", "has no time of day"), ("soon", "is not a moment"),
                      ("1990-01-01T00:00Z", "outside 2000 to 2099"),
                      ("2025-03-30T01:30", "did not happen in Europe/London"),
                      ("2025-10-26T01:30", "happened twice in Europe/London")):  # fmt: skip
        result = ehqa(sqlite_url, "drift", "--known-at", bad)
        assert result.returncode == 2 and "--known-at" in result.stderr and says in result.stderr


# ---- the same through the API -------------------------------------------------------------

TODAY = date(2025, 11, 20)


@pytest.fixture
def http(store_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    services = Services(store_url, clock=fixed(TODAY))
    app = create_app(services)
    people = {"lp": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
              "coordinator": ("Co-ordinator", Role.COORDINATOR, None)}  # fmt: skip
    tokens = {k: f"Bearer {app.state.api.tokens.create(*p)}" for k, p in people.items()}
    with TestClient(app) as client:
        yield client, tokens
    services.close()


def test_known_at_through_the_api(http: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = http

    def call(method: str, path: str, body: Any = None, who: str = "coordinator") -> Any:
        response = client.request(method, path, json=body, headers={"Authorization": tokens[who]})
        assert response.status_code < 300, response.text
        return response.json()

    opening = {"episode": "EH-9", "on": "2025-09-01", "child": "C-9",
               "lead": {"name": "Jo Bright", "agency": "primary_school"}}  # fmt: skip
    call("POST", "/episodes", opening, who="lp")
    call("POST", "/episodes/EH-9/record_consent",
         {"on": "2025-09-02", "agencies": ["primary_school"]}, who="lp")  # fmt: skip
    call("POST", "/episodes/EH-9/see_child", {"on": "2025-09-15"}, who="lp")
    before = moment()
    call("POST", "/episodes/EH-9/finalise_assessment", {"on": "2025-09-26"}, who="lp")

    known = {"known_at": before}
    then_episode = client.get("/episodes/EH-9", params=known,
                              headers={"Authorization": tokens["lp"]}).json()  # fmt: skip
    assert then_episode["state"] == "assessing"
    assert call("GET", "/episodes/EH-9", who="lp")["state"] == "assessed"
    assert call("GET", "/episodes/EH-9?as_at=2025-09-26", who="lp")["state"] == "assessed"
    assert call("GET", "/episodes/EH-9?as_at=2025-09-25", who="lp")["state"] == "assessing"
    then = client.get("/episodes/EH-9/deadlines", params={**known, "as_at": "2025-10-01"},
                      headers={"Authorization": tokens["lp"]}).json()  # fmt: skip
    assert clock_status(then, "assessment") == "overdue"
    now = call("GET", "/episodes/EH-9/deadlines?as_at=2025-10-01", who="lp")
    assert clock_status(now, "assessment") == "met"
    timeline = client.get("/episodes/EH-9/timeline", params=known,
                          headers={"Authorization": tokens["lp"]}).json()  # fmt: skip
    assert [e["event"] for e in timeline] == ["Opened", "ConsentRecorded", "ChildSeen"]
    board = client.get("/drift", params={**known, "as_at": "2025-10-01"},
                       headers={"Authorization": tokens["coordinator"]}).json()  # fmt: skip
    assert [(r["episode"], r["clock"]) for r in board] == [("EH-9", "assessment")]
    assert call("GET", "/drift?as_at=2025-10-01") == []
    every = client.get("/deadlines", params={**known, "as_at": "2025-10-01"},
                       headers={"Authorization": tokens["coordinator"]}).json()  # fmt: skip
    assert clock_status(every, "assessment") == "overdue"
    loads = client.get("/caseloads", params={**known, "as_at": "2025-10-01"},
                       headers={"Authorization": tokens["coordinator"]}).json()  # fmt: skip
    assert loads[0]["overdue_clocks"] == 1
    assert client.get("/alerts", params=known,
                      headers={"Authorization": tokens["coordinator"]}).json() == []  # fmt: skip


def test_the_api_refuses_a_bad_moment_and_an_unknown_parameter(
    http: tuple[TestClient, dict[str, str]],
) -> None:
    client, tokens = http
    auth = {"Authorization": tokens["coordinator"]}
    bad = client.get("/drift", params={"known_at": "2025-10-01"}, headers=auth)
    assert bad.status_code == 422 and "has no time of day" in bad.text
    skipped = client.get("/drift", params={"known_at": "2026-03-29T01:15"}, headers=auth)
    assert skipped.status_code == 422 and "did not happen in Europe/London" in skipped.text
    unknown = client.get("/drift", params={"knownat": "2025-10-01T10:00"}, headers=auth)
    assert unknown.status_code == 400 and "'knownat'" in unknown.text
