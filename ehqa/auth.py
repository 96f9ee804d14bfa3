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
        episode TEXT,
        subject TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_access_log_episode ON ehqa_access_log (episode, at)",
]
# Columns added since the first release: a store made by it gains them on start-up.
SERVICE_COLUMNS = {"ehqa_access_log": {"subject": "TEXT"}}


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
        return Principal(name, Role(role), agency, subject="token:" + _hash(token)[:16])


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_file: Path
    role_claim: str = "ehqa_role"
    agency_claim: str = "ehqa_agency"
    name_claim: str = "name"


class JwtVerifier:
    """Verifies RS256/ES256 JWTs with keys from a JWKS file (no network at request time)."""

    def __init__(self, settings: OidcSettings) -> None:
        self.settings = settings
        keys = json.loads(settings.jwks_file.read_text())["keys"]
        self._keys = {key.get("kid"): jwt.PyJWK(key) for key in keys}

    def principal(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) or (
                next(iter(self._keys.values())) if len(self._keys) == 1 else None
            )
            if key is None:
                raise Unauthenticated(f"no key {kid!r} in the JWKS file")
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256", "ES256"], audience=self.settings.audience,
                issuer=self.settings.issuer, options={"require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid token: {error}") from None
        try:
            role = Role(str(claims.get(self.settings.role_claim)))
        except ValueError:
            raise Unauthenticated(
                f"the token's {self.settings.role_claim} claim names no ehqa role"
            ) from None
        name = str(claims.get(self.settings.name_claim) or claims.get("sub"))
        agency = claims.get(self.settings.agency_claim)
        subject = f"{claims.get('iss')}#{claims.get('sub')}"
        return Principal(name, role, str(agency) if agency else None, subject=subject)


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
                "INSERT INTO ehqa_access_log (at, who, role, agency, action, episode, subject)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (_now(), who.name, who.role.value, who.agency, action, episode, who.subject),
            )

    def entries(self, episode: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = ("WHERE episode = ?", [episode]) if episode else ("", [])
        rows = self.db.query(
            f"SELECT at, subject, who, role, agency, action, episode FROM ehqa_access_log {where}"
            f" ORDER BY at DESC LIMIT {int(limit)}",
            params,
        )
        keys = ("at", "subject", "who", "role", "agency", "action", "episode")
        return [dict(zip(keys, row, strict=True)) for row in rows]
