"""Who is calling: API tokens (stored hashed) or, for councils with single sign-on, OIDC JWTs
verified against the issuer, audience and a JWKS file. Also the access log of who read what."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aggregates.access import Principal, Role
from ehqa import bounds
from projections.db import Cursor, ViewDatabase

# The tables (ehqa_tokens, ehqa_access_log) are made and changed by ehqa/migrations.


class Unauthenticated(Exception):
    """No credentials, or credentials that do not check out."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


class TokenError(ValueError):
    """A token command that cannot be done as asked (unknown or ambiguous token, bad expiry)."""


@dataclass(frozen=True)
class Issued:
    id: str
    token: str
    expires_at: str | None


LAST_USED_EVERY = timedelta(minutes=1)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _fresh_id(cur: Cursor) -> str:
    while True:
        ident = secrets.token_hex(4)
        cur.execute("SELECT 1 FROM ehqa_tokens WHERE id = ?", (ident,))
        if cur.fetchone() is None:
            return ident


MAX_EXPIRY_DAYS = 3653


def parse_expiry(value: str, now: datetime) -> datetime:
    """`90d` (that many days from now) or `YYYY-MM-DD` (at 00:00 UTC that day), in the future."""
    if value[:-1].isdigit() and value.endswith("d"):
        if int(value[:-1]) > MAX_EXPIRY_DAYS:
            raise TokenError(f"--expires {value!r}: at most {MAX_EXPIRY_DAYS}d (ten years)")
        moment = now + timedelta(days=int(value[:-1]))
    else:
        try:
            moment = datetime.combine(date.fromisoformat(value), time(), UTC)
        except ValueError:
            raise TokenError(
                f"--expires {value!r} is neither a number of days (90d) nor a date (YYYY-MM-DD)"
            ) from None
    if moment <= now:
        raise TokenError(f"--expires {value!r} is not in the future")
    return moment


_LISTED = ("id", "name", "role", "agency", "created_at", "expires_at", "last_used_at", "revoked_at")


class TokenBook:
    """API tokens: only a hash of each is kept. Every use reads the store (no cache), so a
    revoked or expired token is refused at once by every worker; the time of last use is
    written at most once a minute per token."""

    def __init__(
        self, db: ViewDatabase, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.db = db
        self.now = now
        # (given, the last-use stamp is handed to it as (sql, rows) instead of written at once)
        self.defer: Callable[[str, list[tuple[Any, ...]]], None] | None = None

    def create(
        self, name: str, role: Role, agency: str | None = None, expires: datetime | None = None
    ) -> str:
        """Issue a token; only its hash is kept, so it is shown once."""
        return self.issue(name, role, agency, expires).token

    def issue(
        self, name: str, role: Role, agency: str | None = None, expires: datetime | None = None
    ) -> Issued:
        if role in (Role.LEAD_PROFESSIONAL, Role.PRACTITIONER) and not agency:
            raise ValueError(f"a {role.value} token needs --agency")
        token = "ehqa_" + secrets.token_urlsafe(32)
        expires_at = _stamp(expires) if expires else None
        with self.db.transaction() as cur:
            ident = _fresh_id(cur)
            cur.execute(
                "INSERT INTO ehqa_tokens (token_hash, id, name, role, agency, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    _hash(token),
                    ident,
                    name,
                    role.value,
                    agency,
                    self.now().astimezone(UTC).isoformat(),
                    expires_at,
                ),
            )
        return Issued(ident, token, expires_at)

    def principal(self, token: str) -> Principal:
        rows = self.db.query(
            "SELECT id, name, role, agency, revoked_at, expires_at, last_used_at FROM ehqa_tokens"
            " WHERE token_hash = ?",
            (_hash(token),),
        )
        if not rows:
            raise Unauthenticated("unknown token")
        ident, name, role, agency, revoked_at, expires_at, last_used_at = rows[0]
        if revoked_at is not None:
            raise Unauthenticated("token revoked")
        now = self.now()
        if expires_at is not None and datetime.fromisoformat(expires_at) <= now:
            raise Unauthenticated("token expired")
        if last_used_at is None or datetime.fromisoformat(last_used_at) <= now - LAST_USED_EVERY:
            self._used(token, now)
        return Principal(name, Role(role), agency, subject=f"token:{ident}")

    def principal_by_id(self, ident: str) -> Principal:
        """The holder of the token with this id, while it is neither revoked nor expired (a
        page session made from a token asks on every page, so revoking it ends the session)."""
        rows = self.db.query(
            "SELECT name, role, agency, revoked_at, expires_at FROM ehqa_tokens WHERE id = ?",
            (ident,),
        )
        if not rows:
            raise Unauthenticated("unknown token")
        name, role, agency, revoked_at, expires_at = rows[0]
        if revoked_at is not None:
            raise Unauthenticated("token revoked")
        if expires_at is not None and datetime.fromisoformat(expires_at) <= self.now():
            raise Unauthenticated("token expired")
        return Principal(name, Role(role), agency, subject=f"token:{ident}")

    def _used(self, token: str, now: datetime) -> None:
        # Conditional, so that workers racing on the same token write once a minute between them.
        sql = (
            "UPDATE ehqa_tokens SET last_used_at = ? WHERE token_hash = ?"
            " AND (last_used_at IS NULL OR last_used_at <= ?)"
        )
        params = (_stamp(now), _hash(token), _stamp(now - LAST_USED_EVERY))
        if self.defer is not None:  # (a server commits it with its reads' access-log entries)
            self.defer(sql, [params])
            return
        with self.db.transaction() as cur:
            cur.execute(sql, params)

    def tokens(self) -> list[dict[str, Any]]:
        """Every token, oldest first: never its secret or its hash."""
        rows = self.db.query(
            f"SELECT {', '.join(_LISTED)} FROM ehqa_tokens ORDER BY created_at, id"
        )
        return [dict(zip(_LISTED, row, strict=True)) for row in rows]

    def revoke(self, id_or_name: str) -> dict[str, Any]:
        """Revoke the token with this id or, if exactly one unrevoked token has it, this name.
        Answers the token as it was; revoking a revoked token changes nothing."""
        tokens = self.tokens()
        found = [t for t in tokens if t["id"] == id_or_name]
        if not found:
            named = [t for t in tokens if t["name"] == id_or_name]
            found = [t for t in named if t["revoked_at"] is None] or named
            if not found:
                raise TokenError(f"no token has the id or name {id_or_name!r}")
            if len(found) > 1:
                ids = ", ".join(t["id"] for t in found)
                raise TokenError(
                    f"{len(found)} tokens are named {id_or_name!r} (ids {ids}): revoke one by its id"
                )
        target = found[0]
        if target["revoked_at"] is None:
            with self.db.transaction() as cur:
                cur.execute(
                    "UPDATE ehqa_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    (_stamp(self.now()), target["id"]),
                )
        return target


@dataclass(frozen=True)
class OidcSettings:
    """The issuer whose JWTs are accepted, and where its signing keys are: a JWKS file, or the
    issuer's JWKS address (exactly one)."""

    issuer: str
    audience: str
    jwks_file: Path | None = None
    role_claim: str = "ehqa_role"
    agency_claim: str = "ehqa_agency"
    name_claim: str = "name"
    jwks_url: str | None = None

    def __post_init__(self) -> None:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give the issuer's keys as a JWKS file or a JWKS URL (one of them)")


class JwksUnavailable(Exception):
    """The issuer's JWKS could not be fetched or read at start-up."""


JWKS_TIMEOUT = 10  # seconds, for fetching the key set at start-up


class JwtVerifier:
    """Verifies RS256/ES256 JWTs with keys from a JWKS file, or from the issuer's JWKS address
    fetched once at start-up (no network at request time: a key the issuer adds later is known
    after a restart).

    The token's header names its key (`kid`, always required, whatever the number of keys) and
    its algorithm, which must be the key's: the JWK's `alg` if it has one, else the algorithm of
    its key type (RSA: RS256; EC P-256: ES256)."""

    ALGORITHMS = ("RS256", "ES256")

    def __init__(self, settings: OidcSettings) -> None:
        import jwt  # (imported by the verifier alone: the command line never loads it)

        self.settings = settings
        if settings.jwks_file is not None:
            keys = json.loads(settings.jwks_file.read_text())["keys"]
            self._source = "the JWKS file"
        else:
            keys = _fetch_keys(str(settings.jwks_url))
            self._source = "the issuer's JWKS"
        self._keys = {
            key["kid"]: (jwt.PyJWK(key), _key_algorithm(key)) for key in keys if key.get("kid")
        }

    def principal(self, token: str) -> Principal:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
            kid, alg = header.get("kid"), header.get("alg")
            if alg not in self.ALGORITHMS:
                raise Unauthenticated(f"the token's algorithm {alg!r} is not RS256 or ES256")
            if not kid:
                raise Unauthenticated("the token's header names no key (kid)")
            if kid not in self._keys:
                raise Unauthenticated(f"no key (kid) {kid!r} in {self._source}")
            key, key_alg = self._keys[kid]
            if key_alg != alg:
                raise Unauthenticated(f"the token is {alg} but key {kid!r} is {key_alg}")
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[alg], audience=self.settings.audience,
                issuer=self.settings.issuer, options={"require": ["exp", "iss", "aud", "sub"]},
            )  # fmt: skip
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"invalid token: {error}") from None
        named = self.settings
        return principal_of_claims(claims, named.role_claim, named.agency_claim, named.name_claim)


def principal_of_claims(claims: dict[str, Any], role_claim: str = "ehqa_role",
                        agency_claim: str = "ehqa_agency", name_claim: str = "name") -> Principal:  # fmt: skip
    """Who verified claims (a bearer JWT's, or a page sign-in's ID token) name: the subject is
    the issuer and `sub`; the role, agency and name come from the claims named."""
    try:
        role = Role(str(claims.get(role_claim)))
    except ValueError:
        raise Unauthenticated(f"the token's {role_claim} claim names no ehqa role") from None
    subject = str(claims.get("sub") or "")
    if not subject.strip():
        raise Unauthenticated("the token's sub claim is empty")
    name = str(claims.get(name_claim) or subject)
    agency = claims.get(agency_claim)
    try:  # claims reach the access log and every fact's author: the same bounds as input
        bounds.check("subject", f"{claims['iss']}#{subject}", "the token's iss and sub")
        bounds.check("name", name, f"the token's {name_claim} claim")
        if agency:
            bounds.check("name", str(agency), f"the token's {agency_claim} claim")
    except bounds.OutOfBounds as error:
        raise Unauthenticated(str(error)) from None
    return Principal(
        name, role, str(agency) if agency else None, subject=f"{claims['iss']}#{subject}"
    )


def _fetch_keys(url: str) -> list[dict[str, Any]]:
    """The issuer's keys, fetched once (PyJWT's JWKS client, without its cache: the verifier
    keeps the keys)."""
    import jwt

    client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=JWKS_TIMEOUT)
    try:
        found = client.fetch_data()
    except (jwt.PyJWKClientError, ValueError) as error:  # (ValueError: not JSON)
        raise JwksUnavailable(f"the JWKS at {url} could not be fetched: {error}") from None
    if not isinstance(found, dict) or not isinstance(found.get("keys"), list):
        raise JwksUnavailable(f"the JWKS at {url} is not a JWK set (no list of keys)")
    return [key for key in found["keys"] if isinstance(key, dict)]


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


ACCESS_INSERT = (
    "INSERT INTO ehqa_access_log (at, who, role, agency, action, episode, subject)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def access_rows(who: Principal, entries: list[tuple[str, str | None]]) -> list[tuple[Any, ...]]:
    """The access-log rows of (action, episode) entries of one caller, stamped now."""
    at = _now()
    return [(at, who.name, who.role.value, who.agency, action, episode, who.subject)
            for action, episode in entries]  # fmt: skip


class AccessLog:
    def __init__(self, db: ViewDatabase) -> None:
        self.db = db

    def record(self, who: Principal, action: str, episode: str | None = None) -> None:
        self.record_many(who, [(action, episode)])

    def record_many(self, who: Principal, entries: list[tuple[str, str | None]]) -> None:
        """Several (action, episode) entries of one caller, in one transaction."""
        with self.db.transaction() as cur:
            cur.executemany(ACCESS_INSERT, access_rows(who, entries))

    def entries(self, episode: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = ("WHERE episode = ?", [episode]) if episode else ("", [])
        rows = self.db.query(
            f"SELECT at, subject, who, role, agency, action, episode FROM ehqa_access_log {where}"
            f" ORDER BY at DESC LIMIT {int(limit)}",
            params,
        )
        keys = ("at", "subject", "who", "role", "agency", "action", "episode")
        return [dict(zip(keys, row, strict=True)) for row in rows]
