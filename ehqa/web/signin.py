"""Signing in and out of the pages: an API token exchanged for a session (small sites), or
the council's OIDC provider (authorization code with PKCE, through Authlib), whose ID token's
claims name the person as a bearer JWT's do (ehqa.auth.principal_of_claims)."""

from __future__ import annotations

import logging
import warnings
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from aggregates.access import Principal
from ehqa.api.core import Api
from ehqa.api.deps import ApiDep
from ehqa.auth import Unauthenticated, principal_of_claims
from ehqa.web import session
from ehqa.web.config import OidcClient
from ehqa.web.deps import PREFIX, Csrf, render, safe_next, web_config

# Authlib warns on import that it prefers httpx2 to httpx (its own filter says "always"): a
# line in every server's log, JSON logs included. Its filter is set first, then overruled here.
with warnings.catch_warnings():
    import authlib.deprecate  # noqa: F401

    warnings.simplefilter("ignore")
    from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App

router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = logging.getLogger("ehqa.web")

Next = Annotated[str | None, Query(max_length=1000, description="The page to return to.")]
Ended = Literal["idle", "old", "token"]
ENDED = {
    "idle": "Your session ended because it was not used for a while. Sign in again.",
    "old": "Your session ended: sessions last at most 12 hours. Sign in again.",
    "token": "Your session ended: the API token it was made from no longer works.",
}


def oidc_app(client: OidcClient) -> StarletteOAuth2App:
    """The council's provider, registered with Authlib: its endpoints and keys come from its
    discovery document; every authorization request carries a PKCE challenge (S256)."""
    oauth = OAuth()
    oauth.register(
        "council", client_id=client.client_id, client_secret=client.client_secret,
        server_metadata_url=client.metadata_url,
        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"},
    )  # fmt: skip
    found: StarletteOAuth2App = oauth.create_client("council")
    return found


def _page(request: Request, status: int = 200, **context: object) -> Response:
    return render(request, "sign_in.html", status, oidc=web_config(request).oidc is not None,
                  **context)  # fmt: skip


@router.get("/sign-in", name="sign_in")
def sign_in_page(request: Request, next: Next = None, ended: Ended | None = None) -> Response:
    return _page(request, next=safe_next(next), ended=ENDED.get(ended or ""))


def _begin(request: Request, api: Api, who: Principal, via: str) -> None:
    session.start(request, who, via)
    with api.lock:
        api.access.record(who, f"sign in ({via})")


@router.post("/sign-in")
def sign_in_with_token(request: Request, api: ApiDep, _: Csrf,
                       token: Annotated[str, Form(max_length=500)] = "",
                       next: Annotated[str | None, Form(max_length=1000)] = None) -> Response:  # fmt: skip
    """An API token (`ehqa tokens create`) exchanged for a session: the token is not kept, only
    its id (each page asks whether it still works)."""
    token = token.strip()
    if not token:
        error = "Enter your API token"
    elif not token.startswith("ehqa_"):
        error = "Enter an API token: it begins ehqa_"
    else:
        try:
            with api.lock:
                who = api.tokens.principal(token)
        except Unauthenticated as refused:
            error = f"That API token was not accepted ({refused})"
        else:
            _begin(request, api, who, "token")
            return RedirectResponse(safe_next(next) or f"{PREFIX}/", status_code=303)
    return _page(request, 400, next=safe_next(next), errors=[("token", error)])


@router.post("/sign-out")
def sign_out(request: Request, api: ApiDep, _: Csrf) -> Response:
    found = session.signed_in(request)
    if found is not None:
        with api.lock:
            api.access.record(found[0], "sign out")
    session.end(request)
    session.notice(request, "You have signed out.")
    return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)


@router.get("/sign-in/oidc", name="oidc_start")
async def oidc_start(request: Request, next: Next = None) -> Response:
    """To the council's provider, with state, nonce and a PKCE challenge kept in the session."""
    provider = _provider(request)
    request.session["next"] = safe_next(next)
    redirect_uri = request.url_for("oidc_callback")
    try:
        answer: Response = await provider.authorize_redirect(request, redirect_uri)
    except (httpx.HTTPError, OAuthError, ValueError) as error:  # (ValueError: not JSON)
        log.warning("the OIDC provider's discovery document could not be read: %s", error)
        return _page(request, 503, errors=[("oidc", "The council's sign-in cannot be reached"
                                            " just now; try again later, or use an API token")])  # fmt: skip
    return answer


Text = Annotated[str | None, Query(max_length=2000)]


@router.get("/sign-in/oidc/callback", name="oidc_callback")
async def oidc_callback(request: Request, api: ApiDep, code: Text = None, state: Text = None,
                        iss: Text = None, session_state: Text = None, error: Text = None,
                        error_description: Text = None, error_uri: Text = None,
                        client_info: Text = None, scope: Text = None) -> Response:  # fmt: skip
    """Back from the provider: the code exchanged (with the PKCE verifier) for tokens, the ID
    token verified (signature, issuer, audience, nonce, expiry), its claims made a person."""
    provider = _provider(request)
    try:
        tokens = await provider.authorize_access_token(request)
        claims = dict(tokens.get("userinfo") or {})
        who = principal_of_claims(claims)
    except OAuthError as refused:
        return _page(request, 400, errors=[("oidc", "The council's sign-in did not complete"
                                            f" ({refused.description or refused.error})")])  # fmt: skip
    except Unauthenticated as refused:
        return _page(request, 403, errors=[("oidc", "The council's sign-in named you, but not"
                                            f" as a user of this service ({refused})")])  # fmt: skip
    next_path = safe_next(request.session.get("next"))
    await run_in_threadpool(_begin, request, api, who, "oidc")
    return RedirectResponse(next_path or f"{PREFIX}/", status_code=303)


def _provider(request: Request) -> StarletteOAuth2App:
    provider: StarletteOAuth2App | None = getattr(request.app.state, "oidc", None)
    if provider is None:
        raise HTTPException(404, "this service has no single sign-on")
    return provider
