"""`ehqa serve` takes its settings from ehqa.settings: single sign-on keys fetched from the
issuer's JWKS address at start-up, a staff file, and JSON log lines (EHQA_LOG_FORMAT=json)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt

from tests.e2e.api.test_serve import call, ehqa, serving
from tests.unit.test_jwt import ISSUER, RSA_KEY, jwks_server, rsa_jwk


def test_serve_with_a_jwks_address_a_staff_file_and_json_logs(tmp_path: Path) -> None:
    db = str(tmp_path / "ehqa.db")
    ehqa(db, "tokens", "create", "--role", "admin", "--name", "setup")  # (makes the store)
    (tmp_path / "staff.toml").write_text('[managers]\n"Jo Bright" = "Sam Reed"\n')
    claims = {"iss": ISSUER, "aud": "ehqa", "sub": "u1", "name": "Co Ordinator",
              "ehqa_role": "coordinator", "exp": datetime.now(UTC) + timedelta(minutes=5)}  # fmt: skip
    bearer = jwt.encode(claims, RSA_KEY, algorithm="RS256", headers={"kid": "r1"})
    keys = json.dumps({"keys": [rsa_jwk("r1")]}).encode()
    with jwks_server(keys) as (url, asked):
        env = {"EHQA_OIDC_ISSUER": ISSUER, "EHQA_OIDC_AUDIENCE": "ehqa", "EHQA_OIDC_JWKS_URL": url,
               "EHQA_LOG_FORMAT": "json", "EHQA_STAFF_FILE": str(tmp_path / "staff.toml"),
               "EHQA_BACKGROUND": "0"}  # fmt: skip
        with serving(db, tmp_path, env=env) as base:
            status, opened = call(base, bearer, "POST", "/episodes", {
                "episode": "EH-1", "on": "2025-09-01", "child": "C-1",
                "lead": {"name": "Jo Bright", "agency": "primary_school"}})  # fmt: skip
            assert status == 201, opened
            status, _ = call(base, bearer, "POST", "/episodes/EH-1/record_consent",
                             {"on": "2025-09-02", "agencies": ["primary_school"]})  # fmt: skip
            assert status == 200
            # the staff file is read: Jo Bright's manager may not audit Jo's episode
            status, refused = call(base, bearer, "POST", "/audits", {
                "reference": "AU-1", "episode": "EH-1", "scheme": "st_helens",
                "auditor": "Sam Reed", "on": "2025-10-01"})  # fmt: skip
            assert status == 409 and "Sam Reed" in refused["detail"], refused
            status, _ = call(base, bearer, "GET", "/drift")
            assert status == 200
            status, problem = call(base, "nope.nope.nope", "GET", "/drift")
            assert status == 401 and problem["detail"].startswith("invalid token")
        assert len(asked) == 1  # fetched once, at start-up
    lines = [line for line in next(tmp_path.glob("serve-*.log")).read_text().splitlines()
             if line.strip()]  # fmt: skip
    logged = [json.loads(line) for line in lines]  # every line is one JSON object
    requests = [e for e in logged if e.get("path") == "/drift"]
    assert [e["status"] for e in requests] == [200, 401]
    assert all({"time", "level", "logger", "request_id"} <= set(e) for e in requests)
    assert any("Started server process" in e.get("message", "") for e in logged), logged
