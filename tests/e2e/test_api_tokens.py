"""Who is calling, over HTTP: JWT key rules answer 401 (never 500), and API tokens carry a
stable subject, expire, are revoked at once and record when they were last used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from ehqa.api import create_app
from ehqa.auth import JwtVerifier, OidcSettings
from ehqa.clock import fixed
from ehqa.services import Services

TODAY = date(2025, 11, 20)
ISSUER = "https://sso.council.example"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def sso_token(key: Any, alg: str, kid: str | None, **claims: Any) -> str:
    base = {"iss": ISSUER, "aud": "ehqa", "sub": "u1", "name": "Jo Bright",
            "ehqa_role": "coordinator", "exp": datetime.now(UTC) + timedelta(minutes=5)}  # fmt: skip
    return jwt.encode({**base, **claims}, key, algorithm=alg,
                      headers={"kid": kid} if kid is not None else {})  # fmt: skip


@pytest.fixture
def sso(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    keys = [{**rsa_jwk, "kid": "r1"}, {**ec_jwk, "kid": "e1"}]
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": keys}))
    settings = OidcSettings(issuer=ISSUER, audience="ehqa", jwks_file=tmp_path / "jwks.json")
    services = Services(store_url, clock=fixed(TODAY))
    with TestClient(create_app(services, JwtVerifier(settings))) as http:
        yield http
    services.close()


def get(http: TestClient, bearer: str, path: str = "/drift") -> Any:
    return http.get(path, headers={"Authorization": f"Bearer {bearer}"})


def test_jwt_key_mismatches_answer_401_not_500(sso: TestClient) -> None:
    assert get(sso, sso_token(RSA_KEY, "RS256", "r1")).status_code == 200
    assert get(sso, sso_token(EC_KEY, "ES256", "e1")).status_code == 200
    for bad in (sso_token(RSA_KEY, "RS256", "e1"), sso_token(EC_KEY, "ES256", "r1"),
                sso_token(RSA_KEY, "RS256", "nope"), sso_token(RSA_KEY, "RS256", None)):  # fmt: skip
        answer = get(sso, bad)
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"


def test_a_single_key_jwks_refuses_a_token_without_its_kid(store_url: str, tmp_path: Path) -> None:
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**rsa_jwk, "kid": "r1"}]}))
    settings = OidcSettings(issuer=ISSUER, audience="ehqa", jwks_file=tmp_path / "jwks.json")
    services = Services(store_url, clock=fixed(TODAY))
    with TestClient(create_app(services, JwtVerifier(settings))) as http:
        assert get(http, sso_token(RSA_KEY, "RS256", "r1")).status_code == 200
        assert get(http, sso_token(RSA_KEY, "RS256", "other")).status_code == 401
        assert get(http, sso_token(RSA_KEY, "RS256", None)).status_code == 401
    services.close()
