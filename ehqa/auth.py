"""Who is calling: API tokens (stored hashed) or, for councils with single sign-on, OIDC JWTs
verified against the issuer, audience and a JWKS file. Also the access log of who read what."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from aggregates.access import Principal, Role
from projections.db import ViewDatabase

SERVICE_TABLES = [
    """CREATE TABLE IF NOT EXISTS ehqa_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS ehqa_access_log (
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        action TEXT NOT NULL,
        episode TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_access_log_episode ON ehqa_access_log (episode, at)",
    """CREATE TABLE IF NOT EXISTS ehqa_idempotency (
        principal TEXT NOT NULL,
        key TEXT NOT NULL,
        request TEXT NOT NULL,
        status INTEGER,
        body TEXT,
        PRIMARY KEY (principal, key)
    )""",
]


class Unauthenticated(Exception):
    """No credentials, or credentials that do not check out."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TokenBook:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def create(self, name: str, role: Role, agency: str | None = None) -> str:
        """Issue a token; only its hash is kept, so it is shown once."""
        if role in (Role.LEAD_PROFESSIONAL, Role.PRACTITIONER) and not agency:
            raise ValueError(f"a {role.value} token needs --agency")
        token = "ehqa_" + secrets.token_urlsafe(32)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO ehqa_tokens (token_hash, name, role, agency, created_at) VALUES (?, ?, ?, ?, ?)",
                (_hash(token), name, role.value, agency, _now()),
            )
        return token

    def principal(self, token: str) -> Principal:
        rows = self.db.query(
            "SELECT name, role, agency FROM ehqa_tokens WHERE token_hash = ? AND revoked_at IS NULL",
            (_hash(token),),
        )
        if not rows:
            raise Unauthenticated("unknown or revoked token")
        name, role, agency = rows[0]
        return Principal(name, Role(role), agency)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_file: Path
    role_claim: str = "ehqa_role"
    agency_claim: str = "ehqa_agency"
    name_claim: str = "name"


class JwtVerifier:
    """Verifies RS256/ES256 JWTs with keys from a JWKS file (no network at request time).

    The token's header names its key (`kid`, always required, whatever the number of keys) and
    its algorithm, which must be the key's: the JWK's `alg` if it has one, else the algorithm of
    its key type (RSA: RS256; EC P-256: ES256)."""

    ALGORITHMS = ("RS256", "ES256")

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        keys = json.loads(settings.jwks_file.read_text())["keys"]
        self._keys = {
            key["kid"]: (jwt.PyJWK(key), _key_algorithm(key)) for key in keys if key.get("kid")
        }

    def principal(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
            kid, alg = header.get("kid"), header.get("alg")
            if alg not in self.ALGORITHMS:
                raise Unauthenticated(f"the token's algorithm {alg!r} is not RS256 or ES256")
            if not kid:
                raise Unauthenticated("the token's header names no key (kid)")
            if kid not in self._keys:
                raise Unauthenticated(f"no key (kid) {kid!r} in the JWKS file")
            key, key_alg = self._keys[kid]
            if key_alg != alg:
                raise Unauthenticated(f"the token is {alg} but key {kid!r} is {key_alg}")
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.settings.audience,
                issuer=self.settings.issuer, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid token: {error}") from None
        try:
            role = Role(str(claims.get(self.settings.role_claim)))
        except ValueError:
            raise Unauthenticated(
                f"the token's {self.settings.role_claim} claim names no ehqa role"
            ) from None
        subject = str(claims["sub"])
        name = str(claims.get(self.settings.name_claim) or subject)
        agency = claims.get(self.settings.agency_claim)
        return Principal(
            name, role, str(agency) if agency else None, subject=f"{claims['iss']}#{subject}"
        )


def _key_algorithm(jwk: dict[str, Any]) -> str:
    """The one algorithm a JWK verifies: its `alg`, else its key type's."""
    if jwk.get("alg"):
        return str(jwk["alg"])
    if jwk.get("kty") == "RSA":
        return "RS256"
    if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        return "ES256"
    return f"{jwk.get('kty')} {jwk.get('crv') or ''}".strip()


class Authenticator:
    def __init__(self, tokens: TokenBook, verifier: JwtVerifier | None = None) -> None:
        self.tokens = tokens
        self.verifier = verifier

    def principal(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthenticated("send Authorization: Bearer <token>")
        token = authorization[7:].strip()
        if token.count(".") == 2 and self.verifier is not None:
            return self.verifier.principal(token)
        return self.tokens.principal(token)


class AccessLog:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def record(self, who: Principal, action: str, episode: str | None = None) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO ehqa_access_log (at, who, role, agency, action, episode) VALUES (?, ?, ?, ?, ?, ?)",
                (_now(), who.name, who.role.value, who.agency, action, episode),
            )

    def entries(self, episode: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = ("WHERE episode = ?", [episode]) if episode else ("", [])
        rows = self.db.query(
            f"SELECT at, who, role, agency, action, episode FROM ehqa_access_log {where}"
            f" ORDER BY at DESC LIMIT {int(limit)}",
            params,
        )
        keys = ("at", "who", "role", "agency", "action", "episode")
        return [dict(zip(keys, row, strict=True)) for row in rows]
