"""Refusals on the pages as pages: the same refusals as the API's (one access rule), drawn as
HTML for a path under /web, and left to the API's problem+json handlers elsewhere.

- no session, or an ended one: to the sign-in page (303), brought back afterwards;
- a form without the session's CSRF token: 403, nothing recorded;
- 404 (no such page or episode, or one the caller may not read: the same answer): not found;
- 403, 409, 400, 422: the refusal page, with the API's reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregates.errors import DomainError
from ehqa.api.errors import Refused, as_problem
from ehqa.application import EpisodeNotFoundError
from ehqa.web.deps import PREFIX, CsrfRefused, SignInNeeded, render, sign_in_path

Handler = Callable[[Request, Any], Awaitable[Response] | Response]


def page_for(request: Request, error: Exception) -> Response:
    if isinstance(error, SignInNeeded):
        return RedirectResponse(sign_in_path(error.next_path, error.why), status_code=303)
    if isinstance(error, CsrfRefused):
        return render(request, "refused.html", 403, title="This form was not accepted",
                      detail="The form did not carry this session's security token (it may be"
                      " from an old page, or from another site). Nothing was recorded. Open"
                      " the page again and send the form from there.")  # fmt: skip
    if isinstance(error, RequestValidationError):
        problems = [(_field(e["loc"]), str(e["msg"])) for e in error.errors()]
        return render(request, "refused.html", 422, title="That could not be read",
                      detail="Nothing was recorded.", problems=problems)  # fmt: skip
    found = as_problem(error)
    status = found.status if found else 500
    if status == 401:
        return RedirectResponse(sign_in_path(request.url.path), status_code=303)
    if status == 404:
        return render(request, "not_found.html", 404)
    detail = found.detail if found else "Something went wrong; nothing was recorded."
    return render(request, "refused.html", status, title=found.title if found else "Error",
                  detail=detail)  # fmt: skip


def _field(location: tuple[Any, ...]) -> str:
    return str(location[-1]) if location else "form"


def install(app: FastAPI) -> None:
    """Wrap the API's handlers: a page's refusal is a page, the API's stays problem+json."""
    for kind in (Refused, StarletteHTTPException, RequestValidationError, EpisodeNotFoundError,
                 DomainError, SignInNeeded, CsrfRefused):  # fmt: skip
        app.add_exception_handler(kind, _either(app.exception_handlers.get(kind)))


def _either(api_handler: Handler | None) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        if (
            api_handler is None
            or request.url.path == PREFIX
            or request.url.path.startswith(f"{PREFIX}/")
        ):
            return page_for(request, error)
        answer = api_handler(request, error)
        return await answer if isinstance(answer, Awaitable) else answer

    return handle
