"""What page routes declare: the caller from the session, the CSRF check of a form, and
`render` for a template. See the package's docstring for a route written with them."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape

from aggregates.access import Principal
from ehqa.api.core import Api
from ehqa.api.deps import ApiDep
from ehqa.auth import Unauthenticated
from ehqa.web import session
from ehqa.web.config import WebConfig
from ehqa.web.nav import nav_for

PREFIX = "/web"
HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def day(value: date | str | None) -> str:
    """A date as people write it (20 Nov 2025); ISO text from a view is read first."""
    if value is None or value == "":
        return ""
    found = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{found.day} {found:%b %Y}"


templates.env.filters["day"] = day

# Pages hold personal data: never cached, never framed, no script or style from elsewhere.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self';"
    " script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SignInNeeded(Exception):
    """No session, or one that has ended: the page sends the browser to sign in."""

    def __init__(self, next_path: str, why: str | None = None) -> None:
        super().__init__(why or "sign in")
        self.next_path, self.why = next_path, why


class CsrfRefused(Exception):
    """A form posted without this session's CSRF token: refused, nothing recorded."""


def web_config(request: Request) -> WebConfig:
    return cast(WebConfig, request.app.state.web)


def get_page_caller(request: Request, api: ApiDep) -> Principal:
    """Who the session says is signed in, checked as the API checks a caller: a session made
    from an API token ends when the token is revoked or expires. No session, an idle one or
    an old one: `SignInNeeded` (the browser is sent to sign in, and brought back)."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    found = session.signed_in(request)
    if found is None:
        raise SignInNeeded(here)
    who, via = found
    idle = web_config(request).idle_minutes * 60
    since = request.session.get("since")
    if session.idle_for(request) > idle:
        session.end(request)
        raise SignInNeeded(here, "idle")
    if not isinstance(since, int) or time.time() - since > session.LIFETIME:
        session.end(request)
        raise SignInNeeded(here, "old")
    if via == "token":
        try:
            who = api.tokens.principal_by_id(who.subject.removeprefix("token:"))
        except Unauthenticated:
            session.end(request)
            raise SignInNeeded(here, "token") from None
    session.touch(request)
    request.state.who = who
    return who


PageCaller = Annotated[Principal, Depends(get_page_caller)]


def check_csrf(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> None:
    """Every form's CSRF check: declare `_: Csrf` on a POST route (before any recording)."""
    if not session.csrf_matches(request, csrf_token):
        raise CsrfRefused()


Csrf = Annotated[None, Depends(check_csrf)]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template under ehqa/web/templates, with what the layout needs: the signed-in person
    (`who`, if a page caller was asked for), their navigation, the CSRF token for forms and a
    notice left by the last form."""
    who: Principal | None = getattr(request.state, "who", None)
    return templates.TemplateResponse(
        request,
        name,
        {
            "who": who,
            "nav": nav_for(who) if who else [],
            "here": request.url.path,
            "csrf_token": session.csrf_token(request),
            "notice": session.notice(request),
            **context,
        },
        status_code=status_code,
        headers=HEADERS,
    )


def sign_in_path(next_path: str | None = None, why: str | None = None) -> str:
    path = f"{PREFIX}/sign-in"
    query = []
    if next_path and safe_next(next_path):
        query.append(f"next={quote(next_path, safe='/')}")
    if why:
        query.append(f"ended={why}")
    return path + ("?" + "&".join(query) if query else "")


def safe_next(path: str | None) -> str | None:
    """A page of this service to return to after sign-in (never another site)."""
    if path and path.startswith(f"{PREFIX}/") and not path.startswith("//") and "\\" not in path:
        return path
    return None


__all__ = ["Api", "ApiDep", "Csrf", "PageCaller", "render"]
