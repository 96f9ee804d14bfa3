"""Sessions of the pages: who signed in, kept in a signed cookie.

The cookie is Starlette's session cookie, signed with the session key (itsdangerous): HttpOnly,
SameSite=Lax (a sign-in coming back from the OIDC provider is a top-level navigation, which Lax
lets carry the cookie; a form posted from another site is refused by the CSRF check), at most
`LIFETIME` old, and `Secure` (named `__Host-ehqa_session`) on a request that came over https.

The session holds the person (name, role, agency, stable subject), how they signed in, when
it was last used (`seen`, for the idle timeout) and the CSRF token of its forms.

CSRF: the synchronizer token pattern, with the token kept in the session. The kept CSRF
libraries for Starlette were weighed: `starlette-csrf` reads the token from a header only (a
plain HTML form cannot send one without JavaScript); `asgi-csrf` and `fastapi-csrf-protect` use
the double-submit cookie, a second cookie whose token is not bound to the session (a token
from one session is good in another). The session is already a signed cookie, so a random
token in it, compared in constant time with the form's, is OWASP's first recommendation at
the cost of a few lines.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict
from typing import Any

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from aggregates.access import Principal, Role

LIFETIME = 12 * 60 * 60  # seconds: however active, a session ends this long after sign-in
CSRF_FIELD = "csrf_token"


class Sessions:
    """Starlette's session middleware, with the `Secure` cookie on an https request and the
    plain one on http (served on loopback, or behind a proxy that does not say https)."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        common: dict[str, Any] = {"max_age": LIFETIME, "same_site": "lax", "path": "/"}
        self.plain = SessionMiddleware(app, secret, session_cookie="ehqa_session", **common)
        self.secure = SessionMiddleware(
            app, secret, session_cookie="__Host-ehqa_session", https_only=True, **common
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope["type"] in ("http", "websocket") and scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)


def start(request: Request, who: Principal, via: str) -> None:
    """A new session for `who` (anything of an earlier one is dropped, its CSRF token too)."""
    request.session.clear()
    now = int(time.time())
    request.session.update({"who": asdict(who), "via": via, "since": now, "seen": now})


def end(request: Request) -> None:
    request.session.clear()


def signed_in(request: Request) -> tuple[Principal, str] | None:
    """The session's person and how they signed in (`token` or `oidc`), if any."""
    who = request.session.get("who")
    if not isinstance(who, dict):
        return None
    try:
        principal = Principal(str(who["name"]), Role(who["role"]), who.get("agency"),
                              subject=str(who["subject"]))  # fmt: skip
    except (KeyError, ValueError):
        return None
    return principal, str(request.session.get("via", ""))


def idle_for(request: Request) -> float:
    """Seconds since the session was last used (0 for a session without the mark)."""
    seen = request.session.get("seen")
    return time.time() - seen if isinstance(seen, int | float) else 0.0


def touch(request: Request) -> None:
    request.session["seen"] = int(time.time())


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made when first asked for (a sign-in form has one too)."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_matches(request: Request, given: str) -> bool:
    kept = request.session.get("csrf")
    return isinstance(kept, str) and bool(given) and secrets.compare_digest(kept, given)


def notice(request: Request, text: str | None = None) -> str | None:
    """Leave a one-line notice for the next page (with `text`), or take the one left."""
    if text is not None:
        request.session["notice"] = text
        return text
    found = request.session.pop("notice", None)
    return found if isinstance(found, str) else None
