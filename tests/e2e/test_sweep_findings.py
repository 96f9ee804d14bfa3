# ruff: noqa: F811  (the `client` fixture is imported from test_api)
"""Findings of a hostile-input and access sweep, one test each (named by the finding's number).
Each failed on the product before its fix; they stay as regression tests."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from ehqa.api import create_app
from ehqa.auth import JwtVerifier, OidcSettings
from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.api.test_api import TODAY, Client, client, consented_episode  # noqa: F401


def test_F1_an_over_long_json_integer_is_400_not_500(client: Client) -> None:
    body = b'{"x":' + b"9" * 4301 + b"}"
    for path in ("/health", "/episodes", "/episodes/EH-C/see_child"):
        answer = client.http.post(path, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, (path, answer.status_code, answer.text)


def test_F1_an_import_line_with_an_over_long_integer_is_a_refused_line(tmp_path: Path) -> None:
    lines = tmp_path / "in.jsonl"
    lines.write_text(
        '{"cmd":"open","episode":"EH-1","on":"2025-09-01","child":"C-1",'
        '"lead":{"name":"A","agency":"camhs"}}\n'
        '{"cmd":"step_up","episode":"EH-1","on":"2025-09-02","level":' + "3" * 5000 + "}\n"
    )
    run = subprocess.run([sys.executable, "-m", "ehqa", "--db", str(tmp_path / "x.db"), "apply",
                          str(lines)], capture_output=True, text=True, timeout=120,
                         env={"EHQA_TODAY": "2025-11-20", "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.startswith("line 2:"), run.stderr[-500:]
    assert "Traceback" not in run.stderr


def test_F3_an_idempotent_replay_rechecks_who_may_read_the_episode(
    client: Client,
) -> None:
    consented_episode(client, "EH-C")  # health_visiting (pr_in) may record on it
    key = {"Idempotency-Key": "k-1"}
    first = client.call("pr_in", "POST", "/episodes/EH-C/see_child", {"on": "2025-11-12"}, **key)
    assert first.status_code == 200
    narrowed = {"on": "2025-11-13", "agencies": ["primary_school"]}
    assert (
        client.call("lp_in", "POST", "/episodes/EH-C/record_consent", narrowed).status_code == 200
    )
    assert client.call("pr_in", "GET", "/episodes/EH-C").status_code == 404
    replay = client.call("pr_in", "POST", "/episodes/EH-C/see_child", {"on": "2025-11-12"}, **key)
    assert replay.status_code == 404, replay.json()


@pytest.mark.parametrize("key", [b"\x85", b"", b"k" * 20_000])
def test_F4_an_idempotency_key_out_of_bounds_is_refused(
    client: Client,
    key: bytes,
) -> None:
    consented_episode(client, "EH-C")
    answer = client.http.post(
        "/episodes/EH-C/see_child", json={"on": "2025-11-12"},
        headers={"Authorization": f"Bearer {client.tokens['coordinator']}", "Idempotency-Key": key},
    )  # fmt: skip
    assert answer.status_code in (400, 422), (answer.status_code, answer.text[:200])
    assert "Idempotency-Key" in answer.text and "k" * 300 not in answer.text


def test_F5_alerts_for_a_value_that_matches_nothing_is_refused(
    client: Client,
) -> None:
    for value in ("Jo Bright", "nobody-at-all"):
        answer = client.call("coordinator", "GET", f"/alerts?for={value}")
        assert answer.status_code == 400, (value, answer.status_code, answer.json())


def test_F6_a_repeated_query_parameter_is_not_silently_dropped(
    client: Client,
) -> None:
    consented_episode(client, "EH-C")
    answer = client.call(
        "coordinator", "GET", "/drift?agency=primary_school&agency=health_visiting"
    )
    assert answer.status_code == 400, answer.json()


def test_F7_an_undocumented_query_refusal_carries_a_request_id(
    client: Client,
) -> None:
    answer = client.call("coordinator", "GET", "/drift?agencyy=camhs")
    assert answer.status_code == 400
    assert "x-request-id" in answer.headers, dict(answer.headers)


@pytest.mark.parametrize("claims", [{"sub": "u\x00x"}, {"name": "Evil\x00Name"},
                                    {"sub": "u\x85x"}, {"sub": ""}, {"sub": "u" * 5000},
                                    {"name": "N" * 6000}])  # fmt: skip
def test_F8_single_sign_on_claims_out_of_bounds_are_refused(
    store_url: str, tmp_path: Path, claims: dict[str, Any]
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    settings = OidcSettings(issuer="https://sso.example", audience="ehqa",
                            jwks_file=tmp_path / "jwks.json")  # fmt: skip
    services = Services(store_url, clock=fixed(TODAY))
    app = create_app(services, JwtVerifier(settings))
    base = {"iss": settings.issuer, "aud": "ehqa", "sub": "u1", "name": "Jo", "ehqa_role":
            "coordinator", "exp": datetime.now(UTC) + timedelta(minutes=5)}  # fmt: skip
    token = jwt.encode({**base, **claims}, key, algorithm="RS256", headers={"kid": "k1"})
    with TestClient(app) as http:
        answer = http.get("/drift", headers={"Authorization": f"Bearer {token}"})
    services.close()
    assert answer.status_code == 401, (answer.status_code, answer.text[:200])


def test_F10_audit_routes_do_not_reveal_which_audits_exist(
    client: Client,
) -> None:
    score = {"item": "A1", "value": 1, "evidence": "e", "on": "2025-11-19"}
    answer = client.call("pr_out", "POST", "/audits/AU-NOPE/scores", score)
    assert answer.status_code == 403, answer.json()


@pytest.mark.postgres
def test_F11_a_missing_postgres_schema_is_one_line_and_exit_2(postgres_url: str) -> None:
    url = postgres_url.rsplit("schema=", 1)[0] + "schema=does_not_exist_here"
    run = subprocess.run([sys.executable, "-m", "ehqa", "--db", url, "drift"],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 2, run.stderr[-300:]
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr[-300:]


def test_F12_an_out_of_range_limit_is_a_usage_error(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    for args in (["drift", "--limit", "9" * 23], ["tokens", "create", "--role", "admin",
                                                   "--name", "Y", "--expires", "99999999d"]):  # fmt: skip
        run = subprocess.run([sys.executable, "-m", "ehqa", "--db", db, *args],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert run.returncode == 2, (args, run.stderr[-300:])
        assert "Traceback" not in run.stderr


def test_F13_a_duplicated_body_key_is_refused(client: Client) -> None:
    consented_episode(client, "EH-C")
    answer = client.http.post(
        "/episodes/EH-C/see_child", content=b'{"on":"2025-11-12","on":"2025-11-13"}',
        headers={"Authorization": f"Bearer {client.tokens['coordinator']}",
                 "Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code in (400, 422), answer.json()
