"""Findings of the review of the merged change: each a regression test of its own."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.cli import app as cli
from ehqa.commands import parse_line
from ehqa.exports.chronology import chronology
from ehqa.services import Services
from ehqa.web.config import WebConfig

LEAD = {"name": "Jo Bright", "agency": "primary_school"}
SIM_DAY = date(2026, 11, 20)  # (the services fixture's today)


@pytest.fixture
def followed(services: Services) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app as `ehqa serve` runs it beside a follower (reads do not catch up), with the
    follower not yet caught up: only a write's own catch-up makes its effects readable."""
    app = create_app(services, pages=WebConfig("s" * 40))
    app.state.api.followed = True
    book = app.state.api.tokens
    tokens = {
        "jo": book.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
        "auditor": book.create("An auditor", Role.AUDITOR, None),
    }
    parse_line(
        '{"cmd": "open", "episode": "EH-R1", "on": "2025-11-03", "child": "C-R1",'
        ' "lead": {"name": "Jo Bright", "agency": "primary_school"}}'
    ).apply(services.app)
    services.catch_up()
    with TestClient(app) as client:
        yield client, tokens


def _sign_in(client: TestClient, token: str) -> str:
    page = client.get("/web/sign-in").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    answer = client.post(
        "/web/sign-in", data={"token": token, "csrf_token": csrf[1]}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/web/episodes/EH-R1").text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found[1]


def test_a_step_recorded_from_its_form_is_on_the_page_it_returns_to(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    client, tokens = followed
    csrf = _sign_in(client, tokens["jo"])
    answer = client.post(
        "/web/episodes/EH-R1/steps/record_consent",
        data={"on": "2025-11-04", "agencies": "primary_school", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    # the page the browser is sent back to reads the views as they stand: the write caught
    # them up (as the API's writes do), so the caller reads their own write
    view = services.read.episode("EH-R1")
    assert view is not None and view["consent_agencies"] == ["primary_school"]


def test_verify_is_a_read_it_neither_catches_up_nor_waits_for_the_writers_lock(
    followed: tuple[TestClient, dict[str, str]],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, tokens = followed
    caught_up: list[str] = []
    monkeypatch.setattr(services, "catch_up", lambda: caught_up.append("all") or 0)
    answer = client.get("/verify", headers={"Authorization": f"Bearer {tokens['auditor']}"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True
    assert caught_up == []  # (the follower keeps the views current; reads take no lock)


def test_the_chronology_shows_an_agency_caller_no_audit_the_api_would_refuse_them(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    client, tokens = followed
    services.assign_audit("AU-R1", episode="EH-R1", scheme="st_helens", auditor="Kate Evans",
                          reason="random sample", on=date(2025, 11, 5))  # fmt: skip
    services.catch_up()
    jo = {"Authorization": f"Bearer {tokens['jo']}"}
    assert client.get("/audits/AU-R1", headers=jo).status_code == 403  # the API's rule
    answer = client.get("/exports/chronology/EH-R1", headers=jo)
    assert answer.status_code == 200
    assert "AU-R1" not in answer.text and "Kate Evans" not in answer.text
    assert client.get("/exports/chronology/EH-R1?format=pdf", headers=jo).status_code == 200
    today = services.app.clock()  # (the PDF is compressed: what it is made from, checked)
    assert chronology(services, "EH-R1", None, today, audits=False).audits is None
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    shown = client.get("/exports/chronology/EH-R1", headers=auditor)  # (authority-wide: shown)
    assert "AU-R1" in shown.text and "Kate Evans" in shown.text


def test_the_retention_list_is_a_read_that_leaves_catching_up_to_the_follower(
    followed: tuple[TestClient, dict[str, str]],
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client, tokens = followed
    caught_up: list[str] = []
    monkeypatch.setattr(services, "catch_up", lambda: caught_up.append("all") or 0)
    answer = client.get("/retention/due", headers={"Authorization": f"Bearer {tokens['auditor']}"})
    assert answer.status_code == 200, answer.text
    assert caught_up == []


def test_a_bad_inspection_date_is_refused_naming_its_own_option(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ehqa.db'}"
    result = CliRunner().invoke(
        cli, ["--db", db, "export", "annex-a", "--inspection-date", "2025-13-01"]
    )
    assert result.exit_code == 2
    assert "--inspection-date: '2025-13-01' is not a date" in result.output
    assert "--as-at" not in result.output


def test_a_coordinator_reads_back_the_child_record_they_recorded(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    """Co-ordinators and admins may record for any child, episodes or none: they read back
    what they recorded (an agency caller still gets 404 for a child not theirs)."""
    client, _ = followed
    coordinator = services_token(client, "Co", Role.COORDINATOR)
    sent = client.post(
        "/children/C-NEW/record_child_details",
        headers=coordinator,
        json={"on": "2025-11-10", "name": "Amy Pond"},
    )
    assert sent.status_code == 200, sent.text
    found = client.get("/children/C-NEW", headers=coordinator)
    assert found.status_code == 200, found.text
    assert found.json()["name"] == "Amy Pond"
    jo = services_token(client, "Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school")
    assert client.get("/children/C-NEW", headers=jo).status_code == 404


def services_token(client: TestClient, name: str, role: Role, agency: str | None = None) -> dict:
    token = client.app.state.api.tokens.create(name, role, agency)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def test_the_caseload_page_is_a_read_its_access_log_entries_are_group_committed(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    client, tokens = followed
    _sign_in(client, tokens["jo"])
    api = client.app.state.api  # type: ignore[attr-defined]
    written: list[object] = []
    api.access.record_many = lambda *args: written.append(args)  # (a write now: not for a read)
    assert client.get("/web/caseload").status_code == 200
    assert written == []
    api.group.flush()
    actions = [row[0] for row in services.views.query("SELECT action FROM ehqa_access_log")]
    assert "my caseload" in actions and "alerts" in actions


def test_apply_stamps_each_event_when_it_is_saved_not_when_its_line_was_checked(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known-at reads count an event from its timestamp: an event stamped when the file was
    checked, but saved later, would count as known before it was in the store."""
    from ehqa.application import EhqaApplication
    from ehqa.cli import applying
    from ehqa.store import store_env
    from tests.e2e.cli.test_cli import EXAMPLE_LINES

    checked = applying._check
    saving: list[datetime] = []

    def check_then_wait(*args: object) -> object:
        lines = checked(*args)  # type: ignore[arg-type]
        time.sleep(0.05)
        saving.append(datetime.now(UTC))
        return lines

    monkeypatch.setattr(applying, "_check", check_then_wait)
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES) + "\n")
    result = CliRunner().invoke(
        cli, ["--db", store_url, "--by", "os:tester", "apply", str(source)],
        env={"EHQA_TODAY": "2025-12-01"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    app = EhqaApplication(store_env(store_url))
    try:
        events = list(app.repository.event_store.get(app.get_episode("EH-0001").id))
    finally:
        app.close()
    assert events and all(e.timestamp >= saving[0] for e in events)


def test_a_practitioner_in_the_consent_sees_no_alert_the_api_would_not_show_them(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    """The episode page and the chronology show an agency caller the alerts the API's /alerts
    shows them (those of the episodes they lead), not the escalations to others."""
    client, _ = followed
    parse_line(
        '{"cmd": "record_consent", "episode": "EH-R1", "on": "2025-11-04",'
        ' "agencies": ["primary_school", "health_visiting"]}'
    ).apply(services.app)
    services.catch_up()
    services.sweep()
    services.catch_up()
    raised = services.read.alerts(SIM_DAY, include_cleared=True, episode="EH-R1")
    assert raised, "the sweep raised no alert to test with"
    nurse = services_token(client, "A nurse", Role.PRACTITIONER, "health_visiting")
    assert client.get("/alerts", headers=nurse).json() == []  # (the API's answer)
    page = client.get("/web/sign-in").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf is not None
    token = nurse["Authorization"].removeprefix("Bearer ")
    client.post("/web/sign-in", data={"token": token, "csrf_token": csrf[1]})
    shown = client.get("/web/episodes/EH-R1")
    assert shown.status_code == 200
    assert not [a["id"] for a in raised if a["id"] in shown.text]
    html = client.get("/exports/chronology/EH-R1", headers=nurse)
    assert html.status_code == 200
    assert not [a["id"] for a in raised if a["id"] in html.text]
    everyone = chronology(services, "EH-R1", None, SIM_DAY)  # (an authority-wide reader's)
    assert [a["id"] for a in everyone.alerts] == [a["id"] for a in raised]


def test_a_step_form_with_a_field_it_does_not_have_is_refused_and_records_nothing(
    followed: tuple[TestClient, dict[str, str]], services: Services
) -> None:
    client, tokens = followed
    csrf = _sign_in(client, tokens["jo"])
    before = services.read.episode("EH-R1")
    answer = client.post(
        "/web/episodes/EH-R1/steps/record_consent",
        data={
            "on": "2025-11-04",
            "agencies": "primary_school",
            "agencys": "x",
            "csrf_token": csrf,
        },
    )
    assert answer.status_code == 422, answer.text
    assert (
        "unknown field &#39;agencys&#39;" in answer.text or "unknown field 'agencys'" in answer.text
    )
    services.catch_up()
    assert services.read.episode("EH-R1") == before
