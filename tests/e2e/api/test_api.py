"""The HTTP API on each store: who may do what, errors, idempotency, the access log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.auth import JwtVerifier, OidcSettings
from ehqa.clock import fixed
from ehqa.services import Services

TODAY = date(2025, 11, 20)
PEOPLE = {
    "lp_in": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    "lp_out": ("Lee Walsh", Role.LEAD_PROFESSIONAL, "youth_service"),
    "pr_in": ("Ann Cole", Role.PRACTITIONER, "health_visiting"),
    "pr_out": ("Tom Ali", Role.PRACTITIONER, "camhs"),
    "coordinator": ("Partnership co-ordinator", Role.COORDINATOR, None),
    "auditor": ("Kate Evans", Role.AUDITOR, None),
    "inspector": ("An Inspector", Role.INSPECTOR, None),
    "admin": ("IT admin", Role.ADMIN, None),
}


class Client:
    def __init__(self, http: TestClient, tokens: dict[str, str]) -> None:
        self.http, self.tokens = http, tokens

    def call(
        self, who: str | None, method: str, path: str, body: Any = None, **headers: str
    ) -> Any:
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.http.request(method, path, json=body, headers=headers)


@pytest.fixture
def client(store_url: str) -> Iterator[Client]:
    services = Services(store_url, clock=fixed(TODAY))
    app = create_app(services)
    tokens = {key: app.state.api.tokens.create(*person) for key, person in PEOPLE.items()}
    with TestClient(app) as http:
        yield Client(http, tokens)
    services.close()


def consented_episode(c: Client, ref: str = "EH-C") -> None:
    body = {
        "episode": ref,
        "on": "2025-09-01",
        "child": f"C-{ref}",
        "lead": {"name": "Jo Bright", "agency": "primary_school"},
    }
    assert c.call("lp_in", "POST", "/episodes", body).status_code == 201
    consent = {"on": "2025-09-02", "agencies": ["primary_school", "health_visiting"]}
    assert c.call("lp_in", "POST", f"/episodes/{ref}/record_consent", consent).status_code == 200


# Expected status for each caller, endpoint kind, on an episode consented for primary_school
# and health_visiting (led by primary_school). An agency outside the consent gets 404, as for
# an episode that does not exist: it must not learn that the episode exists.
WHO = ["lp_in", "lp_out", "pr_in", "pr_out", "coordinator", "auditor", "inspector", "admin", None]
TABLE = {
    "read episode": [200, 404, 200, 404, 200, 200, 200, 200, 401],
    "read timeline": [200, 404, 200, 404, 200, 200, 200, 200, 401],
    "read deadlines": [200, 404, 200, 404, 200, 200, 200, 200, 401],
    "record a step": [200, 404, 200, 404, 200, 403, 403, 200, 401],
    "open an episode": [201, 403, 403, 403, 201, 403, 403, 201, 401],
    "drift board": [403, 403, 403, 403, 200, 200, 200, 200, 401],
    "caseloads": [403, 403, 403, 403, 200, 200, 200, 200, 401],
    "all deadlines": [403, 403, 403, 403, 200, 200, 200, 200, 401],
    "access log": [403, 403, 403, 403, 403, 403, 200, 200, 401],
    "episode access log": [403, 403, 403, 403, 403, 403, 200, 200, 401],
}
CELLS = [
    (kind, who, status)
    for kind, statuses in TABLE.items()
    for who, status in zip(WHO, statuses, strict=True)
]


def request_for(kind: str, who: str | None) -> tuple[str, str, Any]:
    ref = f"EH-N-{who}"
    return {
        "read episode": ("GET", "/episodes/EH-C", None),
        "read timeline": ("GET", "/episodes/EH-C/timeline", None),
        "read deadlines": ("GET", "/episodes/EH-C/deadlines", None),
        "record a step": ("POST", "/episodes/EH-C/see_child", {"on": "2025-10-01"}),
        "open an episode": ("POST", "/episodes", {"episode": ref, "on": "2025-10-01", "child": f"C-{ref}",
                                                   "lead": {"name": "Jo Bright", "agency": "primary_school"}}),
        "drift board": ("GET", "/drift", None),
        "caseloads": ("GET", "/caseloads", None),
        "all deadlines": ("GET", "/deadlines", None),
        "access log": ("GET", "/access-log", None),
        "episode access log": ("GET", "/episodes/EH-C/access-log", None),
    }[kind]  # fmt: skip


def test_role_by_endpoint_by_consent(client: Client) -> None:
    """Every cell of the table; one failure message lists every wrong cell."""
    consented_episode(client)
    wrong = []
    for kind, who, expected in CELLS:
        method, path, body = request_for(kind, who)
        response = client.call(who, method, path, body)
        if response.status_code != expected:
            wrong.append(
                f"{kind} as {who}: {response.status_code} (expected {expected}) {response.text[:120]}"
            )
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["status"] == response.status_code
    assert not wrong, "\n".join(wrong)


def test_before_consent_only_the_referring_agency_sees_the_episode(client: Client) -> None:
    body = {
        "episode": "EH-R",
        "on": "2025-09-01",
        "child": "C-R",
        "lead": {"name": "Jo Bright", "agency": "primary_school"},
    }
    assert client.call("lp_in", "POST", "/episodes", body).status_code == 201
    assert client.call("lp_in", "GET", "/episodes/EH-R").status_code == 200
    assert client.call("pr_in", "GET", "/episodes/EH-R").status_code == 404
    assert client.call("lp_out", "GET", "/episodes/EH-R").status_code == 404
    refused = client.call("pr_in", "POST", "/episodes/EH-R/see_child", {"on": "2025-09-02"})
    unknown = client.call("pr_in", "POST", "/episodes/EH-X/see_child", {"on": "2025-09-02"})
    assert refused.status_code == unknown.status_code == 404
    assert refused.json()["detail"] == "no episode EH-R" and "primary_school" not in refused.text
    assert client.call("admin", "GET", "/episodes/EH-R").json()["version"] == 1


def test_errors_name_the_field_the_rule_or_the_episode_and_record_nothing(client: Client) -> None:
    consented_episode(client)
    missing = client.call(
        "lp_in", "POST", "/episodes/EH-C/record_exception", {"on": "2025-10-01", "clock": "fam"}
    )
    assert missing.status_code == 422 and "reason: Field required" in missing.json()["detail"]
    bad_clock = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/record_exception",
        {"on": "2025-10-01", "clock": "tea", "reason": "x"},
    )
    assert bad_clock.status_code == 422 and "clock:" in bad_clock.json()["detail"]
    extra = client.call(
        "lp_in", "POST", "/episodes/EH-C/see_child", {"on": "2025-10-01", "colour": "red"}
    )
    assert extra.status_code == 422 and "colour" in extra.json()["detail"]
    rule = client.call("lp_in", "POST", "/episodes/EH-C/hold_review", {"on": "2025-10-01"})
    assert rule.status_code == 409 and "cannot hold a review" in rule.json()["detail"]
    future = client.call("lp_in", "POST", "/episodes/EH-C/see_child", {"on": "2025-12-01"})
    assert future.status_code == 409 and "in the future" in future.json()["detail"]
    unknown = client.call("admin", "POST", "/episodes/EH-404/see_child", {"on": "2025-10-01"})
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no episode EH-404"
    again = client.call("lp_in", "POST", "/episodes", {"episode": "EH-D", "on": "2025-10-01", "child": "C-EH-C",
                                                        "lead": {"name": "Jo", "agency": "primary_school"}})  # fmt: skip
    assert (
        again.status_code == 409 and "already has an open episode, EH-C" in again.json()["detail"]
    )
    assert client.call("admin", "GET", "/episodes/EH-C").json()["version"] == 2
    bad_token = client.http.get("/episodes/EH-C", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401 and bad_token.headers["www-authenticate"] == "Bearer"


def test_credentials_are_checked_before_the_fields(client: Client) -> None:
    """Who is calling is settled first: without credentials (or with a scheme other than
    Bearer) a malformed request is 401, and says nothing of its fields; with them, 422."""
    malformed = {"on": "not a date", "colour": "red"}
    for headers in ({}, {"Authorization": "Basic am86eA=="}, {"Authorization": "Bearer"}):
        refused = client.http.post("/episodes/EH-C/see_child", json=malformed, headers=headers)
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["detail"] == "send Authorization: Bearer <token>"
    assert client.http.get("/drift?due_within=-1").status_code == 401
    assert client.call("coordinator", "GET", "/drift?due_within=-1").status_code == 422
    assert client.call("lp_in", "POST", "/episodes/EH-C/see_child", malformed).status_code == 422
    assert client.http.get("/drift?nonsense=1").status_code == 400  # (the query's names first)


def test_a_retried_command_with_the_same_idempotency_key_records_once(client: Client) -> None:
    consented_episode(client)
    first = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/see_child",
        {"on": "2025-10-01"},
        **{"Idempotency-Key": "k1"},
    )
    retry = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/see_child",
        {"on": "2025-10-01"},
        **{"Idempotency-Key": "k1"},
    )
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert client.call("admin", "GET", "/episodes/EH-C").json()["version"] == 3
    reused = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/see_child",
        {"on": "2025-10-02"},
        **{"Idempotency-Key": "k1"},
    )
    assert reused.status_code == 422 and "was used for another request" in reused.json()["detail"]
    refused = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/hold_review",
        {"on": "2025-10-02"},
        **{"Idempotency-Key": "k2"},
    )
    replay = client.call(
        "lp_in",
        "POST",
        "/episodes/EH-C/hold_review",
        {"on": "2025-10-02"},
        **{"Idempotency-Key": "k2"},
    )
    assert refused.status_code == replay.status_code == 409 and refused.json() == replay.json()


def test_every_read_of_an_episode_is_in_the_access_log(client: Client) -> None:
    consented_episode(client)
    client.call("pr_in", "GET", "/episodes/EH-C")
    client.call("auditor", "GET", "/episodes/EH-C/timeline")
    client.call("lp_out", "GET", "/episodes/EH-C")  # refused: not a read
    entries = client.call("inspector", "GET", "/episodes/EH-C/access-log").json()
    seen = [(e["who"], e["role"], e["action"]) for e in entries]
    assert ("Ann Cole", "practitioner", "episode") in seen
    assert ("Kate Evans", "auditor", "timeline") in seen
    assert not any(who == "Lee Walsh" for who, _, _ in seen)
    assert all(e["at"] and e["episode"] == "EH-C" for e in entries)


def test_queries_answer_from_the_views(client: Client) -> None:
    consented_episode(client)
    drift = client.call("coordinator", "GET", "/drift", None).json()
    assert sorted((r["episode"], r["clock"]) for r in drift) == [
        ("EH-C", "assessment"),
        ("EH-C", "child_seen"),
    ]
    assert drift[0]["lead"] == "Jo Bright"
    soon = client.call("coordinator", "GET", "/drift?as_at=2025-09-25&due_within=5").json()
    assert {r["clock"] for r in soon} == {"assessment", "child_seen"}
    loads = client.call("coordinator", "GET", "/caseloads").json()
    assert loads[0]["open_episodes"] == 1 and loads[0]["overdue_clocks"] == 2
    timeline = client.call("lp_in", "GET", "/episodes/EH-C/timeline?milestones=true").json()
    assert any(i["event"] == "ClockDue" for i in timeline)
    assert client.http.get("/health").json() == {"status": "ok", "views": {}}
    assert client.http.get("/ready").json()["status"] == "ready"


def test_alerts_reach_the_people_they_are_for(client: Client, store_url: str) -> None:
    consented_episode(client)
    services = Services(store_url, clock=fixed(TODAY))
    services.sweep()
    services.close()
    mine = client.call("lp_in", "GET", "/alerts").json()
    assert mine and all("Jo Bright" in a["recipients"] for a in mine)
    assert client.call("pr_in", "GET", "/alerts").json() == []
    everyone = client.call("coordinator", "GET", "/alerts").json()
    assert len(everyone) >= len(mine)
    ident = mine[0]["id"]
    assert client.call("auditor", "POST", f"/alerts/{ident}/ack").status_code == 403
    acked = client.call("lp_in", "POST", f"/alerts/{ident}/ack")
    assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "Jo Bright"


def test_single_sign_on_tokens_are_verified_against_the_jwks_file(
    store_url: str, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))
    settings = OidcSettings(
        issuer="https://sso.council.example", audience="ehqa", jwks_file=tmp_path / "jwks.json"
    )
    services = Services(store_url, clock=fixed(TODAY))
    app = create_app(services, JwtVerifier(settings))

    def token(**claims: Any) -> str:
        base = {"iss": settings.issuer, "aud": "ehqa", "sub": "u1", "name": "Jo Bright",
                "ehqa_role": "coordinator", "exp": datetime.now(UTC) + timedelta(minutes=5)}  # fmt: skip
        return jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})

    with TestClient(app) as http:
        ok = http.get("/drift", headers={"Authorization": f"Bearer {token()}"})
        assert ok.status_code == 200
        for bad in (token(aud="other"), token(iss="https://evil.example"), token(exp=datetime.now(UTC) - timedelta(minutes=1)),
                    token(ehqa_role="king")):  # fmt: skip
            refused = http.get("/drift", headers={"Authorization": f"Bearer {bad}"})
            assert refused.status_code == 401, refused.text
        lp = token(ehqa_role="lead_professional", ehqa_agency="youth_service")
        assert http.get("/drift", headers={"Authorization": f"Bearer {lp}"}).status_code == 403
    services.close()


def test_an_audit_over_http(client: Client) -> None:
    consented_episode(client)
    assign = {
        "reference": "AU-1",
        "episode": "EH-C",
        "scheme": "what_makes_good",
        "reason": "sample",
        "on": "2025-11-20",
    }
    assert client.call("lp_in", "POST", "/audits", assign).status_code == 403
    involved = client.call("admin", "POST", "/audits", {**assign, "auditor": "Jo Bright"})
    assert (
        involved.status_code == 409
        and "Jo Bright has recorded on episode EH-C" in involved.json()["detail"]
    )
    recorded = client.call("admin", "POST", "/audits", {**assign, "auditor": "Ann Cole"})
    client.call(
        "pr_in", "POST", "/episodes/EH-C/see_child", {"on": "2025-10-01"}
    )  # Ann Cole records on it
    assert recorded.status_code == 201  # (assigned before she recorded)
    again = client.call(
        "admin", "POST", "/audits", {**assign, "reference": "AU-2", "auditor": "Ann Cole"}
    )
    assert again.status_code == 409 and "Ann Cole has recorded" in again.json()["detail"]
    mine = client.call("auditor", "POST", "/audits", {**assign, "reference": "AU-3"})
    assert mine.status_code == 201 and mine.json()["auditor"] == "Kate Evans"
    for section, grade in (("assessment", "Good"), ("initial_meeting", "Good"), ("review_meetings", "Good"),
                           ("outcomes", "Outstanding")):  # fmt: skip
        body = {"item": section, "value": grade, "evidence": "read the record", "on": "2025-11-20"}
        assert client.call("auditor", "POST", "/audits/AU-3/scores", body).status_code == 200
    assert (
        client.call("auditor", "POST", "/audits/AU-1/scores", body).status_code == 403
    )  # not her audit
    done = client.call("auditor", "POST", "/audits/AU-3/complete", {"on": "2025-11-20"})
    assert done.status_code == 200 and done.json()["grade"] == "Good"
    action = {
        "number": "1",
        "who": "Jo Bright",
        "what": "Record the child's views",
        "on": "2025-11-20",
    }
    assert (
        client.call("auditor", "POST", "/audits/AU-3/actions", action).json()["actions"]["1"][
            "due_on"
        ]
        == "2025-12-04"
    )
    report = client.call("coordinator", "GET", "/audit-reports?by=scheme").json()
    assert report == [{"scheme": "what_makes_good", "Outstanding": 0, "Good": 1, "Requires Improvement": 0,
                       "Inadequate": 0, "total": 1}]  # fmt: skip
    assert (
        client.call("inspector", "GET", "/audits/AU-3").json()["scores"]["outcomes"]["value"]
        == "Outstanding"
    )
    done_action = client.call(
        "auditor", "POST", "/audits/AU-3/actions/1/complete", {"on": "2025-11-20"}
    )
    assert done_action.json()["actions"]["1"]["completed_on"] == "2025-11-20"
    talk = {"worker": "Jo Bright", "manager": "Priya Shah", "notes": "agreed", "on": "2025-11-20"}
    assert (
        client.call("auditor", "POST", "/audits/AU-3/discussions", talk).json()["discussions"][0][
            "worker"
        ]
        == "Jo Bright"
    )
    bad_flag = client.call(
        "auditor", "POST", "/audits/AU-3/flags", {"name": "mood", "on": "2025-11-20"}
    )
    assert bad_flag.status_code == 422 and "name" in bad_flag.json()["detail"]
    by_section = client.call("coordinator", "GET", "/audit-reports?by=section").json()
    assert {r["section"] for r in by_section} >= {"what_makes_good: outcomes"}
    proposals = client.call("coordinator", "GET", "/audits/AU-3/proposals").json()
    assert proposals["A1"]["facts"][0] == "consent recorded 2025-09-02"


def test_supporting_families_outcomes_over_http_only_for_the_familys_agencies(
    client: Client,
) -> None:
    """Needs, outcomes and the sustained check through their routes; an agency outside the
    family's consent is told 404 on each, as for an episode that does not exist, and records
    nothing."""
    body = {"episode": "EH-SF", "on": "2024-09-02", "child": "C-SF", "policy": "bnes",
            "lead": {"name": "Jo Bright", "agency": "primary_school"}}  # fmt: skip
    assert client.call("lp_in", "POST", "/episodes", body).status_code == 201
    steps = [
        ("record_consent", {"on": "2024-09-03", "agencies": ["primary_school", "health_visiting"]}),
        ("finalise_assessment", {"on": "2024-09-20"}),
        ("record_needs", {"on": "2024-09-20", "needs": ["education", "health", "relationships"],
                          "whole_family_assessment": True}),
        ("close", {"on": "2025-01-15", "reason": "outcomes_achieved", "summary": "Plan met"}),
        ("record_outcomes", {"on": "2025-01-15",
                             "outcomes": {"education": True, "health": True, "relationships": False}}),
        ("record_sustained_check", {"on": "2025-07-21",
                                    "sustained": {"education": True, "health": False}}),
    ]  # fmt: skip
    outsiders = ("lp_out", "pr_out")
    for step, payload in steps:
        for who in outsiders:  # before the family's own agency records the step
            refused = client.call(who, "POST", f"/episodes/EH-SF/{step}", payload)
            unknown = client.call(who, "POST", f"/episodes/EH-NONE/{step}", payload)
            assert refused.status_code == unknown.status_code == 404, (step, who, refused.text)
            assert refused.json()["detail"] == "no episode EH-SF"
            assert "primary_school" not in refused.text and "health" not in refused.text
        who = "pr_in" if step == "record_sustained_check" else "lp_in"  # a consented agency
        done = client.call(who, "POST", f"/episodes/EH-SF/{step}", payload)
        assert done.status_code == 200, (step, done.text)
    episode = client.call("admin", "GET", "/episodes/EH-SF").json()
    assert episode["version"] == 1 + len(steps) and episode["state"] == "closed"
    timeline = client.call("pr_in", "GET", "/episodes/EH-SF/timeline").json()
    recorded = {e["event"]: {k: e[k] for k in ("on", "needs", "whole_family_assessment",
                                                 "outcomes", "sustained") if k in e}
                for e in timeline if e["event"].endswith("Recorded")}  # fmt: skip
    assert {k: v for k, v in recorded.items() if k != "ConsentRecorded"} == {
        "NeedsRecorded": {"on": "2024-09-20", "needs": ["education", "health", "relationships"],
                          "whole_family_assessment": True},
        "OutcomesRecorded": {"on": "2025-01-15", "outcomes": {"education": True, "health": True,
                                                              "relationships": False}},
        "SustainedCheckRecorded": {"on": "2025-07-21",
                                   "sustained": {"education": True, "health": False}},
    }  # fmt: skip
    # the checks that refuse a wrong outcome still answer the family's agencies (409), never
    # an outsider
    again = {"on": "2025-07-22", "sustained": {"education": True, "health": True}}
    twice = client.call("lp_in", "POST", "/episodes/EH-SF/record_sustained_check", again)
    assert twice.status_code == 409 and "already recorded" in twice.json()["detail"]
    hidden = client.call("lp_out", "POST", "/episodes/EH-SF/record_sustained_check", again)
    assert hidden.status_code == 404 and hidden.json()["detail"] == "no episode EH-SF"
