"""A person is a stable subject, never a display name: namesakes in different agencies see
nothing of each other's; a caller who may not read an episode cannot learn that it exists;
idempotency keys survive faults and races; server errors are logged with a request id."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa import idempotency
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.commands import parse_line
from ehqa.services import Services

TODAY = date(2025, 11, 20)
PEOPLE = {
    "jo_school": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    "jo_youth": ("Jo Bright", Role.LEAD_PROFESSIONAL, "youth_service"),
    "fake_coordinator": ("Partnership co-ordinator", Role.PRACTITIONER, "camhs"),
    "coordinator": ("Partnership co-ordinator", Role.COORDINATOR, None),
    "inspector": ("An Inspector", Role.INSPECTOR, None),
    "kate": ("Kate Evans", Role.AUDITOR, None),
    "kate_too": ("Kate Evans", Role.AUDITOR, None),
}


class Caller:
    def __init__(self, http: TestClient, tokens: dict[str, str]) -> None:
        self.http, self.tokens = http, tokens

    def __call__(self, who: str, method: str, path: str, body: Any = None, **headers: str) -> Any:
        headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.http.request(method, path, json=body, headers=headers)


@pytest.fixture
def call(store_url: str) -> Iterator[Caller]:
    services = Services(store_url, clock=fixed(TODAY))
    app = create_app(services)
    tokens = {key: app.state.api.tokens.create(*person) for key, person in PEOPLE.items()}
    with TestClient(app) as http:
        yield Caller(http, tokens)
    services.close()


def open_episode(call: Caller, who: str, ref: str, agency: str) -> None:
    body = {"episode": ref, "on": "2025-09-01", "child": f"C-{ref}",
            "lead": {"name": "Jo Bright", "agency": agency}}  # fmt: skip
    assert call(who, "POST", "/episodes", body).status_code == 201
    consent = {"on": "2025-09-02", "agencies": [agency]}
    assert call(who, "POST", f"/episodes/{ref}/record_consent", consent).status_code == 200


def sweep(store_url: str) -> None:
    services = Services(store_url, clock=fixed(TODAY))
    services.sweep()
    services.close()


def test_namesakes_in_different_agencies_see_nothing_of_each_other(
    call: Caller, store_url: str
) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    open_episode(call, "jo_youth", "EH-Y", "youth_service")
    sweep(store_url)

    school = call("jo_school", "GET", "/alerts?all=true").json()
    youth = call("jo_youth", "GET", "/alerts?all=true").json()
    assert school and {a["episode"] for a in school} == {"EH-S"}
    assert youth and {a["episode"] for a in youth} == {"EH-Y"}
    # A practitioner whose token carries the co-ordinator's display name gets nothing of theirs.
    assert call("fake_coordinator", "GET", "/alerts?all=true").json() == []
    everyone = call("coordinator", "GET", "/alerts?all=true").json()
    assert {a["episode"] for a in everyone} == {"EH-S", "EH-Y"}
    by_role = call("coordinator", "GET", "/alerts?for=coordinator").json()
    assert by_role and all(a["rung"] in ("overdue", "escalated") for a in by_role)

    # Neither can acknowledge, read or learn of the other's episode.
    other_alert = youth[0]["id"]
    assert call("jo_school", "POST", f"/alerts/{other_alert}/ack").status_code == 404
    for path in ("/episodes/EH-Y", "/episodes/EH-Y/timeline", "/episodes/EH-Y/deadlines"):
        hidden, missing = (
            call("jo_school", "GET", path),
            call("jo_school", "GET", path.replace("EH-Y", "EH-Q")),
        )
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["detail"] == "no episode EH-Y"
        assert "youth_service" not in hidden.text


def test_a_namesake_cannot_replay_another_persons_idempotency_key(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    key = {"Idempotency-Key": "visit-1"}
    first = call("jo_school", "POST", "/episodes/EH-S/see_child", {"on": "2025-10-01"}, **key)
    assert first.status_code == 200
    replay = call("jo_youth", "POST", "/episodes/EH-S/see_child", {"on": "2025-10-01"}, **key)
    assert replay.status_code == 404 and "EH-S" not in json.dumps(replay.json()).replace(
        "no episode EH-S", ""
    )
    assert "child" not in replay.json()
    log = call("inspector", "GET", "/episodes/EH-S/access-log").json()
    assert all(entry["agency"] != "youth_service" for entry in log)
    assert call("coordinator", "GET", "/episodes/EH-S").json()["version"] == 3  # recorded once


def test_opening_for_another_agencys_child_does_not_name_its_open_episode(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    clash = {"episode": "EH-Z", "on": "2025-10-01", "child": "C-EH-S",
             "lead": {"name": "Jo Bright", "agency": "youth_service"}}  # fmt: skip
    refused = call("jo_youth", "POST", "/episodes", clash)
    assert refused.status_code == 409 and "EH-S" not in refused.text.replace("C-EH-S", "")
    assert "primary_school" not in refused.text
    named = call("coordinator", "POST", "/episodes", clash)
    assert named.status_code == 409 and "EH-S" in named.json()["detail"]


def test_a_key_left_pending_by_a_killed_worker_can_be_retried(call: Caller, store_url: str) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    api = call.http.app.state.api  # type: ignore[attr-defined]
    subject = api.auth.principal(f"Bearer {call.tokens['jo_school']}").subject
    body = {"on": "2025-10-01"}
    request = json.dumps(["see_child", "EH-S", body])
    # A worker claimed the key and died before it recorded anything.
    assert isinstance(api.keys.claim(subject, "k-dead", request), str)
    held = call(
        "jo_school", "POST", "/episodes/EH-S/see_child", body, **{"Idempotency-Key": "k-dead"}
    )
    assert held.status_code == 409 and "still being handled" in held.json()["detail"]
    with api.services.views.transaction() as cur:  # ... and its lease has run out
        old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        cur.execute("UPDATE ehqa_idempotency SET started_at = ? WHERE key = ?", (old, "k-dead"))
    retried = call(
        "jo_school", "POST", "/episodes/EH-S/see_child", body, **{"Idempotency-Key": "k-dead"}
    )
    again = call(
        "jo_school", "POST", "/episodes/EH-S/see_child", body, **{"Idempotency-Key": "k-dead"}
    )
    assert retried.status_code == again.status_code == 200 and retried.json() == again.json()
    assert call("coordinator", "GET", "/episodes/EH-S").json()["version"] == 3

    # Another worker claimed a key, recorded the command (with its tracking record, in the same
    # transaction) and died before it answered: the retry answers, and records nothing again.
    body = {"on": "2025-10-02"}
    assert isinstance(
        api.keys.claim(subject, "k-half", json.dumps(["see_child", "EH-S", body])), str
    )
    command = parse_line(json.dumps({"cmd": "see_child", "episode": "EH-S", **body}))
    command.apply(api.services.app, by=subject, tracking=idempotency.tracking(subject, "k-half"))
    with api.services.views.transaction() as cur:
        old = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
        cur.execute("UPDATE ehqa_idempotency SET started_at = ? WHERE key = ?", (old, "k-half"))
    finished = call(
        "jo_school", "POST", "/episodes/EH-S/see_child", body, **{"Idempotency-Key": "k-half"}
    )
    assert finished.status_code == 200 and finished.json()["version"] == 4
    assert call("coordinator", "GET", "/episodes/EH-S").json()["version"] == 4


@pytest.mark.parametrize("rounds", [20])
def test_the_same_key_sent_at_once_to_two_workers_answers_once_never_500(
    store_url: str, rounds: int
) -> None:
    """Two workers (each its own app and connections) on one store receive the same keyed
    request at the same moment: one records it, the other answers 409 or the first answer."""
    workers = [Services(store_url, clock=fixed(TODAY)) for _ in range(2)]
    apps = [create_app(s) for s in workers]
    token = apps[0].state.api.tokens.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school")
    clients = [TestClient(app, raise_server_exceptions=False) for app in apps]
    auth = {"Authorization": f"Bearer {token}"}
    for n in range(rounds):
        body = {"episode": f"EH-{n}", "on": "2025-09-01", "child": f"C-{n}",
                "lead": {"name": "Jo Bright", "agency": "primary_school"}}  # fmt: skip
        barrier, answers = threading.Barrier(2), [0, 0]

        def send(i: int, body: dict[str, Any] = body, barrier: threading.Barrier = barrier,
                 answers: list[int] = answers, n: int = n) -> None:  # fmt: skip
            barrier.wait()
            answers[i] = clients[i].post("/episodes", json=body,
                                         headers={**auth, "Idempotency-Key": f"k{n}"}).status_code  # fmt: skip

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers) in ([201, 201], [201, 409]), answers
    versions = [workers[0].app.get_episode(f"EH-{n}").version for n in range(rounds)]
    assert versions == [1] * rounds
    for s in workers:
        s.close()


def test_a_server_error_is_logged_with_the_request_id_the_problem_carries(
    call: Caller, caplog: pytest.LogCaptureFixture
) -> None:
    api = call.http.app.state.api  # type: ignore[attr-defined]

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    api.services.read.drift = broken
    with caplog.at_level(logging.INFO, logger="ehqa.api"):
        response = TestClient(call.http.app, raise_server_exceptions=False).get(
            "/drift", headers={"Authorization": f"Bearer {call.tokens['coordinator']}"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    request_id = response.json()["request_id"]
    assert request_id == response.headers["x-request-id"]
    assert "disk on fire" not in response.text  # the cause is logged, not shown
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    errors = [line for line in logged if line.get("status") == 500]
    assert errors and errors[0]["request_id"] == request_id and "disk on fire" in errors[0]["error"]


def test_reads_and_writes_of_alerts_audits_and_reports_are_in_the_access_log(
    call: Caller, store_url: str
) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    sweep(store_url)
    mine = call("jo_school", "GET", "/alerts").json()
    assert call("jo_school", "POST", f"/alerts/{mine[0]['id']}/ack").status_code == 200
    call("coordinator", "GET", "/audit-reports?by=scheme")
    entries = call("inspector", "GET", "/access-log?limit=1000").json()
    actions = {(e["subject"], e["action"]) for e in entries}
    api = call.http.app.state.api  # type: ignore[attr-defined]
    jo = api.auth.principal(f"Bearer {call.tokens['jo_school']}").subject
    coordinator = api.auth.principal(f"Bearer {call.tokens['coordinator']}").subject
    assert (jo, "alerts") in actions
    assert (jo, f"acknowledge alert {mine[0]['id']}") in actions
    assert (coordinator, "audit report by scheme") in actions
    assert all(e["subject"] for e in entries)


def test_an_auditor_cannot_work_on_a_namesakes_audit(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    assign = {"reference": "AU-1", "episode": "EH-S", "scheme": "what_makes_good",
              "reason": "sample", "on": "2025-11-20"}  # fmt: skip
    assert call("kate", "POST", "/audits", assign).status_code == 201
    score = {"item": "assessment", "value": "Good", "evidence": "read it", "on": "2025-11-20"}
    assert call("kate_too", "POST", "/audits/AU-1/scores", score).status_code == 403
    assert call("kate", "POST", "/audits/AU-1/scores", score).status_code == 200
    for_her = {**assign, "reference": "AU-2", "auditor": "Kate Evans"}
    assert call("kate_too", "POST", "/audits", for_her).status_code == 403


def test_facts_recorded_over_http_name_the_caller_as_their_author(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    api = call.http.app.state.api  # type: ignore[attr-defined]
    jo = api.auth.principal(f"Bearer {call.tokens['jo_school']}").subject
    app = api.services.app
    stored = app.recorder.select_events(app.get_episode("EH-S").id)
    assert {app.mapper.to_domain_event(e).author for e in stored} == {jo}


def test_opening_an_existing_reference_tells_an_outsider_nothing_about_it(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    body = {"episode": "EH-S", "on": "2025-10-01", "child": "C-NEW",
            "lead": {"name": "Jo Bright", "agency": "youth_service"}}  # fmt: skip
    outsider = call("jo_youth", "POST", "/episodes", body)
    assert outsider.status_code == 409 and "exists" not in outsider.text
    assert "EH-S" not in outsider.text and "primary_school" not in outsider.text
    insider = call("coordinator", "POST", "/episodes", body)
    assert insider.status_code == 409 and "EH-S already exists" in insider.json()["detail"]


def test_a_non_auditor_learns_nothing_of_an_audit_and_keys_are_bounded(call: Caller) -> None:
    open_episode(call, "jo_school", "EH-S", "primary_school")
    assign = {"reference": "AU-1", "episode": "EH-S", "scheme": "what_makes_good",
              "reason": "sample", "on": "2025-11-20"}  # fmt: skip
    assert call("kate", "POST", "/audits", assign).status_code == 201
    score = {"item": "assessment", "value": "Good", "evidence": "read it", "on": "2025-11-20"}
    action = {"number": "1", "who": "Jo", "what": "Do it", "on": "2025-11-20"}
    for path, body in (("scores", score), ("actions", action)):
        real = call("jo_school", "POST", f"/audits/AU-1/{path}", body)
        missing = call("jo_school", "POST", f"/audits/AU-9/{path}", body)
        assert real.status_code == missing.status_code == 403 and real.json() == missing.json()
    long_key = call("jo_school", "POST", "/episodes/EH-S/see_child", {"on": "2025-10-01"},
                    **{"Idempotency-Key": "k" * 5000})  # fmt: skip
    assert long_key.status_code == 422 and "Idempotency-Key" in long_key.text
    assert "k" * 300 not in long_key.text


def test_an_auditor_who_recorded_on_the_episode_is_refused_by_subject_not_name(
    call: Caller,
) -> None:
    """The independence check reads the record's authors: an auditor who recorded a fact
    (under whatever display name) is refused; the log beside the record is not needed."""
    open_episode(call, "jo_school", "EH-S", "primary_school")
    api = call.http.app.state.api  # type: ignore[attr-defined]
    kate = api.auth.principal(f"Bearer {call.tokens['kate']}").subject
    api.services.app.change("EH-S", lambda e, t: e.see_child(date(2025, 10, 1), t), by=kate)
    with api.services.views.transaction() as cur:  # (nothing in the access log says so)
        cur.execute("DELETE FROM ehqa_access_log")
    assign = {"reference": "AU-1", "episode": "EH-S", "scheme": "what_makes_good",
              "reason": "sample", "on": "2025-11-20"}  # fmt: skip
    refused = call("kate", "POST", "/audits", assign)
    assert refused.status_code == 409 and "has recorded on episode EH-S" in refused.json()["detail"]
    assert call("kate_too", "POST", "/audits", assign).status_code == 201
