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

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.auth import JwtVerifier, OidcSettings, TokenBook, TokenError
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


def test_token_subject_expiry_revocation_and_last_use(store_url: str) -> None:
    now = [datetime(2025, 11, 20, 9, 0, tzinfo=UTC)]
    worker_a, worker_b = (
        Services(store_url, clock=fixed(TODAY)),
        Services(store_url, clock=fixed(TODAY)),
    )
    app_a, app_b = create_app(worker_a), create_app(worker_b)
    for app in (app_a, app_b):
        app.state.api.tokens.now = lambda: now[0]
    book = app_a.state.api.tokens
    admin = book.issue("IT admin", Role.ADMIN)
    short = book.issue("Visitor", Role.COORDINATOR, expires=now[0] + timedelta(days=1))
    with TestClient(app_a) as a, TestClient(app_b) as b:
        assert book.principal(admin.token).subject == f"token:{admin.id}"
        assert get(a, short.token).status_code == 200 and get(b, short.token).status_code == 200
        now[0] += timedelta(days=1)
        expired = get(b, short.token)
        assert expired.status_code == 401 and expired.json()["detail"] == "token expired"

        def last_used() -> str:
            for app in (app_a, app_b):  # (a read's stamp is group-committed: committed now)
                app.state.api.group.flush()
            return next(t for t in book.tokens() if t["id"] == admin.id)["last_used_at"]

        assert last_used() == "2025-11-20T09:00:00+00:00"
        assert get(a, admin.token).status_code == 200  # a day later
        first = last_used()
        assert first == "2025-11-21T09:00:00+00:00"
        now[0] += timedelta(seconds=30)
        assert get(a, admin.token).status_code == 200 and get(b, admin.token).status_code == 200
        assert last_used() == first  # not written again within the minute
        now[0] += timedelta(seconds=31)
        assert get(b, admin.token).status_code == 200
        assert last_used() == "2025-11-21T09:01:01+00:00"

        assert get(a, admin.token).status_code == 200
        TokenBook(worker_b.views).revoke(admin.id)
        for http in (a, b):  # at once, in every worker: nothing is cached
            revoked = get(http, admin.token)
            assert revoked.status_code == 401 and revoked.json()["detail"] == "token revoked"
    worker_a.close()
    worker_b.close()


def test_revoking_by_name_needs_a_unique_name(store_url: str) -> None:
    services = Services(store_url, clock=fixed(TODAY))
    book = TokenBook(services.views)
    one, two = book.issue("Shared", Role.COORDINATOR), book.issue("Shared", Role.COORDINATOR)
    with pytest.raises(TokenError, match="2 tokens are named 'Shared'") as ambiguous:
        book.revoke("Shared")
    assert one.id in str(ambiguous.value) and two.id in str(ambiguous.value)
    with pytest.raises(TokenError, match="no token has the id or name"):
        book.revoke("Nobody")
    assert book.revoke(one.id)["revoked_at"] is None  # (as it was)
    assert book.revoke("Shared")["id"] == two.id  # now the only unrevoked one of that name
    assert all(t["revoked_at"] for t in book.tokens())
    assert not any("hash" in key or "token" in key for key in book.tokens()[0])
    services.close()
