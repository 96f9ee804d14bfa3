"""The pages people use in a browser, beside the HTTP API (`ehqa serve` serves both).

Server-rendered HTML (Jinja2, autoescaped) with no JavaScript and no asset from elsewhere:
the stylesheet is served by the package from /web/static, so the pages work on a council
network without internet access. Every page lives under /web and is left out of the OpenAPI
document. The pages use the API's dependencies, settings and access rules: one rule, not two.

The parts: `app` (`install`: what `ehqa.api.create_app` adds), `config` (session key, idle
timeout, OIDC client, from ehqa.settings), `session` (signed cookie sessions, the CSRF token,
one-line notices), `deps` (what a page route declares, and `render`), `errors` (refusals as
pages), `nav` (each page's link and roles), `signin`, `pages` (the start page), `caseload`
(My caseload); templates in `templates/`, the stylesheet in `static/`.

Writing a page route
--------------------
A page route reads like an API route. Declare the caller and the services as parameters; the
caller comes from the session (a browser without one is sent to sign in and brought back)::

    from fastapi import APIRouter, Request
    from fastapi.responses import RedirectResponse, Response
    from ehqa.api.deps import ApiDep
    from ehqa.web.deps import PREFIX, Csrf, PageCaller, render

    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("/episodes/{reference}")
    def episode_page(request: Request, reference: str, who: PageCaller, api: ApiDep) -> Response:
        api.current()  # (reads take no lock: the follower keeps the views current)
        view = api.readable(who, reference, "episode")  # the API's rule: 404 if not theirs
        return render(request, "episode.html", episode=view)

A form's POST declares `_: Csrf` (the session's CSRF token, checked before the route runs: a
missing or wrong one is a 403 page and nothing is recorded) and answers with a redirect (303)
to a page, leaving a line for it with `session.notice(request, "...")` (`from ehqa.web import
session`)::

    @router.post("/episodes/{reference}/review")
    def record_review(request: Request, reference: str, who: PageCaller, api: ApiDep, _: Csrf,
                      on: Annotated[str, Form(max_length=10)] = "") -> Response:
        ...
        return RedirectResponse(f"{PREFIX}/episodes/{reference}", status_code=303)

Every form in a template puts the token in with `{{ csrf_field(csrf_token) }}` (`{% from
"macros.html" import csrf_field %}`; `render` gives every template `csrf_token`).
Let the API's own checks refuse (`api.readable`, `api.writable`, `authority_read`, or call
the API route's function itself): `Refused` 404 becomes the not-found page, 403/409 the
refusal page with the API's reason. A form that should be shown again with its errors
renders its template with `errors=[(field_id, message), ...]` (status 400 or 409), which
`error_summary(errors)` lists, each linking to its field, and `field(...)` marks.

Templates extend `base.html` (skip link, header with the person and their navigation, main
landmark) and fill `{% block title %}` and `{% block content %}`. A new page adds its link,
with the roles it is for, to `nav.NAV`, and its router to `app.ROUTERS`.

Testing a page in a browser: `tests/e2e/web/conftest.py` gives `site` (`ehqa serve` on a
simulated caseload, once on SQLite and once on PostgreSQL, with `site.store.tokens` for Jo (a
lead professional), Lee (another agency's) and a co-ordinator), `page` (Debian's Chromium),
`sign_in(page, base, token, next_path)` and `look(page, name, store_kind)`, which runs axe-core
(failing on a serious or critical violation) and writes the screenshot.
"""

from __future__ import annotations

from ehqa.web.config import WebConfig

__all__ = ["WebConfig"]
