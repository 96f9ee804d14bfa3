"""Single sign-on JWTs: the header's `kid` names the key, and the key's algorithm must be the
header's. Real RS256 and ES256 keys, a JWKS file or a JWKS served over HTTP on loopback, and the
verifier alone (no database)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aggregates.access import Principal, Role
from ehqa.auth import JwksUnavailable, JwtVerifier, OidcSettings, Unauthenticated

ISSUER = "https://sso.council.example"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_jwk(kid: str, key: rsa.RSAPrivateKey = RSA_KEY, **extra: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", **extra}


def ec_jwk(kid: str, **extra: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    return {**jwk, "kid": kid, "use": "sig", **extra}


def verifier(tmp_path: Path, *keys: dict[str, Any]) -> JwtVerifier:
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": list(keys)}))
    return JwtVerifier(
        OidcSettings(issuer=ISSUER, audience="ehqa", jwks_file=tmp_path / "jwks.json")
    )


def token(key: Any, alg: str, kid: str | None, **claims: Any) -> str:
    base = {"iss": ISSUER, "aud": "ehqa", "sub": "u1", "name": "Jo Bright",
            "ehqa_role": "coordinator", "exp": datetime.now(UTC) + timedelta(minutes=5)}  # fmt: skip
    headers = {"kid": kid} if kid is not None else {}
    payload = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


def refused(v: JwtVerifier, bearer: str, because: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        v.principal(bearer)
    assert because in str(caught.value)


def test_the_kid_picks_the_key_and_the_subject_is_issuer_and_sub(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"), ec_jwk("e1"))
    assert v.principal(token(RSA_KEY, "RS256", "r1")) == Principal(
        "Jo Bright", Role.COORDINATOR, None, subject=f"{ISSUER}#u1"
    )
    assert v.principal(token(EC_KEY, "ES256", "e1", sub="u2")).subject == f"{ISSUER}#u2"


def test_a_token_without_sub_is_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"))
    refused(v, token(RSA_KEY, "RS256", "r1", sub=None), "sub")


def test_an_rs256_token_naming_an_es256_key_is_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"), ec_jwk("e1"))
    refused(v, token(RSA_KEY, "RS256", "e1"), "ES256")


def test_an_es256_token_naming_an_rsa_key_is_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"), ec_jwk("e1"))
    refused(v, token(EC_KEY, "ES256", "r1"), "RS256")


@pytest.mark.parametrize("kid", ["unknown", None])
@pytest.mark.parametrize("size", [1, 2])
def test_an_unknown_or_missing_kid_is_refused_whatever_the_jwks_size(
    tmp_path: Path, kid: str | None, size: int
) -> None:
    keys = [rsa_jwk("r1"), ec_jwk("e1")][:size]
    v = verifier(tmp_path, *keys)
    refused(v, token(RSA_KEY, "RS256", kid), "kid")


def test_a_key_whose_alg_differs_from_the_header_is_refused(tmp_path: Path) -> None:
    """The JWK says RS512; the token says RS256 (signed by that very key)."""
    v = verifier(tmp_path, rsa_jwk("r1", alg="RS512"))
    refused(v, token(RSA_KEY, "RS256", "r1"), "RS512")


def test_a_token_signed_by_another_key_is_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"))
    refused(v, token(OTHER_RSA_KEY, "RS256", "r1"), "invalid token")


def test_an_hmac_or_unsigned_token_is_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path, rsa_jwk("r1"))
    refused(v, token("a-shared-secret-of-at-least-32-bytes!", "HS256", "r1"), "HS256")
    unsigned = jwt.encode({"iss": ISSUER, "aud": "ehqa", "sub": "u1"}, None, algorithm="none",
                          headers={"kid": "r1"})  # fmt: skip
    refused(v, unsigned, "none")


@contextmanager
def jwks_server(body: bytes, status: int = 200) -> Iterator[tuple[str, list[str]]]:
    """A JWKS served on 127.0.0.1 (a free port): its address, and the paths asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:  # (quiet)
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_keys_from_a_jwks_url_are_fetched_once_at_start_up() -> None:
    keys = json.dumps({"keys": [rsa_jwk("r1"), ec_jwk("e1")]}).encode()
    with jwks_server(keys) as (url, asked):
        v = JwtVerifier(OidcSettings(issuer=ISSUER, audience="ehqa", jwks_url=url))
        assert asked == ["/.well-known/jwks.json"]
        assert v.principal(token(RSA_KEY, "RS256", "r1")).subject == f"{ISSUER}#u1"
        assert v.principal(token(EC_KEY, "ES256", "e1", sub="u2")).subject == f"{ISSUER}#u2"
        refused(v, token(RSA_KEY, "RS256", "r2"), "no key (kid) 'r2' in the issuer's JWKS")
        refused(v, token(OTHER_RSA_KEY, "RS256", "r1"), "invalid token")
        assert asked == ["/.well-known/jwks.json"]  # no network at request time


@pytest.mark.parametrize(
    ("body", "status", "because"),
    [
        (b"not json", 200, "could not be fetched"),
        (b'{"keys": "none"}', 200, "not a JWK set"),
        (b"{}", 500, "could not be fetched"),
    ],
)
def test_a_jwks_url_that_gives_no_keys_stops_the_start(
    body: bytes, status: int, because: str
) -> None:
    with jwks_server(body, status) as (url, _), pytest.raises(JwksUnavailable) as caught:
        JwtVerifier(OidcSettings(issuer=ISSUER, audience="ehqa", jwks_url=url))
    assert because in str(caught.value) and url in str(caught.value)


def test_the_keys_come_from_a_file_or_a_url_not_both_nor_neither(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one of them"):
        OidcSettings(issuer=ISSUER, audience="ehqa")
    with pytest.raises(ValueError, match="one of them"):
        OidcSettings(issuer=ISSUER, audience="ehqa", jwks_file=tmp_path / "k.json",
                     jwks_url="http://127.0.0.1:1/jwks.json")  # fmt: skip
