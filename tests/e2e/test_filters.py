"""Nothing is silently accepted: filter values that match nothing, query parameters an endpoint
does not document, and `as_at` on an episode are refused or honoured, never ignored. The CLI
(a separate process) and the HTTP API, on each store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from aggregates.schemes import DARLINGTON_DIMENSIONS as DIMENSIONS
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.commands import parse_line
from ehqa.services import Services

from .cli.test_cli import EXAMPLE_LINES, as_json, ehqa, ok

TODAY = date(2025, 11, 25)
LATER = [  # recorded after the examples: a lead change, and a step dated before earlier ones
    '{"cmd":"change_lead","episode":"EH-0001","on":"2025-11-14","lead":{"name":"Sam Reed","agency":"youth_service"}}',
    '{"cmd":"see_child","episode":"EH-0002","on":"2025-10-08"}',
]


@pytest.fixture
def store(store_url: str) -> Iterator[Services]:
    """The example episodes (and LATER) recorded, and the alerts of 20 November raised."""
    services = Services(store_url, clock=fixed(TODAY))
    for line in EXAMPLE_LINES + LATER:
        parse_line(line).apply(services.app)
    services.sweep(date(2025, 11, 20))
    services.catch_up()
    yield services
    services.close()


def refused(db: str, *args: str) -> str:
    result = ehqa(db, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    return result.stderr.strip()


# ---- the command line ----------------------------------------------------------------------------


def test_cli_refuses_filter_values_that_match_nothing_naming_the_known_ones(
    store: Services, store_url: str
) -> None:
    drift = ("drift", "--as-at", "2025-11-20")
    assert refused(store_url, *drift, "--agency", "camhz") == (
        "error: --agency: unknown value 'camhz' (known: early_help_team, health_visiting,"
        " midwifery, primary_school, youth_service)"
    )
    # Jo Bright no longer leads an episode: the known leads are those leading one now
    assert refused(store_url, *drift, "--lead", "Jo Bright") == (
        "error: --lead: unknown value 'Jo Bright' (known: Ann Cole, Ravi Kumar, Sam Reed)"
    )
    assert "--policy: unknown value 'st_helens' (did you mean 'st-helens'?)" in refused(
        store_url, *drift, "--policy", "st_helens"
    )
    clock = refused(store_url, *drift, "--clock", "assesment")
    assert "--clock: unknown value 'assesment' (did you mean 'assessment'?)" in clock
    assert "first_review" in clock and "audit_actions" in clock
    assert "--agency: unknown value 'camhz'" in refused(
        store_url, "audit", "sample", "--size", "1", "--seed", "1", "--agency", "camhz"
    )
    nobody = refused(
        store_url, "alerts", "--as-at", "2025-11-20", "--for", "Partnership coordinator"
    )
    assert nobody.startswith("error: --for: unknown value 'Partnership coordinator'")
    assert all(role in nobody for role in ("lead_professional", "coordinator", "team_manager"))
    # a display name is not an address, even one that alerts show as a recipient
    assert "--for: unknown value 'Partnership co-ordinator'" in refused(
        store_url, "alerts", "--as-at", "2025-11-20", "--for", "Partnership co-ordinator"
    )
    # documented values still answer, the known ones included
    assert {r["episode"] for r in as_json(store_url, *drift, "--agency", "early_help_team")} == {
        "EH-0002"
    }
    assert as_json(store_url, *drift, "--agency", "health_visiting") == []  # known (in consent)
    assert ok(store_url, *drift, "--clock", "gcp2").strip() == "nothing overdue on 2025-11-20"
    managers = as_json(store_url, "alerts", "--as-at", "2025-11-20", "--for", "team_manager")
    assert managers and all(a["rung"] == "escalated" for a in managers)


def test_cli_episode_as_at_is_where_it_stood_on_that_date(store: Services, store_url: str) -> None:
    opened = as_json(store_url, "episode", "EH-0001", "--as-at", "2025-09-01")
    assert (opened["state"], opened["consent_agencies"], opened["version"]) == ("referred", [], 1)
    before = as_json(store_url, "episode", "EH-0001", "--as-at", "2025-11-13")
    after = as_json(store_url, "episode", "EH-0001", "--as-at", "2025-11-14")
    assert before["lead"] == {"name": "Jo Bright", "agency": "primary_school"}
    assert after["lead"] == {"name": "Sam Reed", "agency": "youth_service"}
    assert before["consent_agencies"] == ["health_visiting", "primary_school"]
    # a step recorded later but dated earlier counts from its own date
    assert as_json(store_url, "episode", "EH-0002", "--as-at", "2025-10-08")["version"] == 3
    for reference in ("EH-0001", "EH-0002", "EH-0003"):
        now = as_json(store_url, "episode", reference)
        assert as_json(store_url, "episode", reference, "--as-at", TODAY.isoformat()) == now
    result = ehqa(store_url, "episode", "EH-0001", "--as-at", "2025-08-31")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: episode EH-0001 was not yet opened on 2025-08-31"


def test_cli_grade_refuses_what_the_scheme_does_not_know(tmp_path: Path, store_url: str) -> None:
    cases = {
        (
            "st_helens",
            '{"scores": {"A21": 2}}',
        ): "unknown St Helens item 'A21' (known: A1-A20, R1-R10, closure)",
        (
            "what_makes_good",
            '{"scores": {"assessment": "Good", "initial_meeting": "Good", "review_meetings": "Good", "outcomes": "Good", "fifth": "Good"}}',
        ): "unknown section 'fifth'",
        (
            "darlington",
            '{"scores": {"learning": 2}}',
        ): "unknown dimension 'learning' (known: pre_eha_activity,",
        (
            "st_helens",
            '{"scores": {}, "flags": {"childs_voice_absent": "false"}}',
        ): "flag childs_voice_absent must be true or false (a JSON boolean), not 'false'",
        (
            "st_helens",
            '{"scores": {}, "flags": {"child_voice_absent": true}}',
        ): "unknown flag 'child_voice_absent' (known: childs_voice_absent, safeguarding_not_considered)",
        (
            "darlington",
            json.dumps({"scores": {**dict.fromkeys(DIMENSIONS, 2), "impact": 7}}),
        ): "impact: Darlington grades are 1 (Outstanding) to 4 (Inadequate), not 7",
    }
    for n, ((scheme, text), message) in enumerate(cases.items()):
        (tmp_path / f"{n}.json").write_text(text)
        result = ehqa(store_url, "grade", scheme, str(tmp_path / f"{n}.json"))
        assert result.returncode == 1 and message in result.stderr, result.stderr
    (tmp_path / "typo.json").write_text('{"scores": {}, "flag": {}}')
    assert "unknown key 'flag' (known: scores, flags)" in refused(
        store_url, "grade", "st_helens", str(tmp_path / "typo.json")
    )


# ---- the HTTP API --------------------------------------------------------------------------------


@pytest.fixture
def http(store: Services) -> Iterator[tuple[TestClient, dict[str, str]]]:
    app = create_app(store)
    tokens = {
        "admin": app.state.api.tokens.create("IT admin", Role.ADMIN, None),
        "coordinator": app.state.api.tokens.create(
            "Partnership co-ordinator", Role.COORDINATOR, None
        ),
        "lp": app.state.api.tokens.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    }
    with TestClient(app) as client:
        yield client, {k: f"Bearer {v}" for k, v in tokens.items()}


def get(http: tuple[TestClient, dict[str, str]], path: str, who: str = "coordinator") -> Any:
    client, tokens = http
    return client.get(path, headers={"Authorization": tokens[who]})


def problem(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail: str = response.json()["detail"]
    return detail


def test_api_refuses_filter_values_that_match_nothing_naming_the_known_ones(http: Any) -> None:
    assert problem(get(http, "/drift?agency=camhz"), 400) == (
        "agency: unknown value 'camhz' (known: early_help_team, health_visiting, midwifery,"
        " primary_school, youth_service)"
    )
    assert (
        problem(get(http, "/drift?lead=Nobody"), 400)
        == "lead: unknown value 'Nobody' (known: Ann Cole, Ravi Kumar, Sam Reed)"
    )
    assert "(did you mean 'st-helens'?)" in problem(get(http, "/drift?policy=st_helens"), 400)
    assert problem(get(http, "/drift?clock=assesment"), 400).startswith(
        "clock: unknown value 'assesment' (did you mean 'assessment'?) (known: assessment, fam,"
    )
    ok = get(http, "/drift?as_at=2025-11-20&agency=early_help_team")
    assert ok.status_code == 200 and {r["episode"] for r in ok.json()} == {"EH-0002"}
    # an agency caller is refused the authority-wide board before any value is looked up
    assert problem(get(http, "/drift?agency=camhz", "lp"), 403).startswith("a lead_professional")


def test_api_caps_the_known_values_it_lists(store: Services, http: Any) -> None:
    for n in range(25):
        parse_line(
            json.dumps(
                {
                    "cmd": "open",
                    "episode": f"EH-L{n:02}",
                    "on": "2025-11-24",
                    "child": f"C-L{n}",
                    "lead": {"name": f"Lead {n:02}", "agency": "primary_school"},
                }
            )
        ).apply(store.app)
    detail = problem(get(http, "/drift?lead=Nobody"), 400)
    assert detail.endswith(
        "Ann Cole, Lead 00, Lead 01, Lead 02, Lead 03, Lead 04, Lead 05, Lead 06, Lead 07, Lead 08, Lead 09, Lead 10, Lead 11, Lead 12, Lead 13, Lead 14, Lead 15, Lead 16, Lead 17, Lead 18 and 8 more)"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/drift?agnecy=primary_school",
        "/caseloads?byagency=true",
        "/deadlines?as_at=2025-11-20&episode=EH-0001",
        "/episodes/EH-0001/timeline?milestone=true",
        "/episodes/EH-0001/deadlines?asat=2025-11-20",
        "/alerts?person=Jo",
        "/access-log?limit=5&offset=5",
        "/audit-reports?group=scheme",
        "/health?verbose=1",
    ],
)
def test_an_undocumented_query_parameter_is_a_400_naming_it(http: Any, path: str) -> None:
    name = path.split("?")[1].split("&")[-1].split("=")[0]
    detail = problem(get(http, path, "admin"), 400)
    assert detail.startswith(
        f"unknown query parameter '{name}' for {path.split('?')[0].replace('EH-0001', '{reference}')}"
    )


def test_the_400_lists_what_the_endpoint_takes_and_documented_parameters_still_work(
    http: Any,
) -> None:
    assert problem(get(http, "/caseloads?by=agency&x=1"), 400) == (
        "unknown query parameters 'by', 'x' for /caseloads (it takes as_at, known_at, by_agency)"
    )
    assert problem(get(http, "/episodes/EH-0001?full=1"), 400) == (
        "unknown query parameter 'full' for /episodes/{reference} (it takes as_at, known_at)"
    )
    assert problem(get(http, "/health?x="), 400).endswith("(it takes no query parameters)")
    assert get(http, "/caseloads?by_agency=true&as_at=2025-11-20").status_code == 200
    assert get(http, "/alerts?for=coordinator&all=true").status_code == 200
    assert get(http, "/alerts?for=Jo%20Bright&all=true").status_code == 400  # a name is no address
    assert (
        get(http, "/episodes/EH-0001/timeline?milestones=true&as_at=2025-11-20").status_code == 200
    )
    assert get(http, "/access-log?limit=5", "admin").status_code == 200
    assert get(http, "/nowhere?x=1").status_code == 404  # no route: not found, as before


def test_api_episode_as_at_is_honoured(http: Any) -> None:
    then = get(http, "/episodes/EH-0001?as_at=2025-11-13").json()
    assert then["lead"] == {"name": "Jo Bright", "agency": "primary_school", "subject": None}
    assert then["consent_agencies"] == ["health_visiting", "primary_school"]
    assert get(http, "/episodes/EH-0001?as_at=2025-11-14").json()["lead"]["name"] == "Sam Reed"
    assert get(http, "/episodes/EH-0003?as_at=2025-11-20").json()["state"] == "awaiting_mash"
    assert get(http, "/episodes/EH-0003").json()["state"] == "closed"
    assert (
        get(http, f"/episodes/EH-0002?as_at={TODAY}").json()
        == get(http, "/episodes/EH-0002").json()
    )
    assert problem(get(http, "/episodes/EH-0001?as_at=2025-08-31"), 404) == (
        "episode EH-0001 was not yet opened on 2025-08-31"
    )
    assert problem(get(http, "/episodes/EH-0001?as_at=yesterday"), 422).startswith("query.as_at")
