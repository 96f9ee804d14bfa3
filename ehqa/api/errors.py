"""Refusals as problem+json (RFC 9457): the one `Problem` schema, what each status means, and
the one mapping from an exception to a problem, used by the exception handlers and by the
idempotency glue that keeps a refused command's answer for its retries.

422 malformed input, 401/403 who you are and what you may do, 404 unknown episode (or one the
caller may not read), 409 a lifecycle rule or a version conflict. Nothing is recorded on any
error. Each operation documents the statuses it can answer with `responses(...)`, every one a
`$ref` to the `Problem` component (never an inline copy).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregates.errors import DomainError
from ehqa.application import EpisodeNotFoundError

PROBLEM = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"


class Problem(BaseModel):
    """A refusal or a failure (RFC 9457 problem details)."""

    type: str = Field(default="about:blank", description="Always about:blank: the status says it.")
    title: str = Field(description="The status's name, e.g. Not Found.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What was refused and why, for a person to read.")
    request_id: str | None = Field(
        default=None, description="On a server error: the request id to quote (also X-Request-ID)."
    )


class Refused(Exception):
    """Raised by a route to answer with a problem (status, title, detail)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}  # (RFC 9110's names)
WHAT = {
    400: "A query parameter, path segment or body that is not acceptable at all (unknown or"
    " repeated parameter, a filter value that matches nothing, a control character, not JSON).",
    401: "No credentials, or credentials that do not check out (answered with"
    " WWW-Authenticate: Bearer).",
    403: "The caller's role or agency may not do this.",
    404: "No such episode, or one the caller may not read (the same answer: a refusal does not"
    " tell that an episode exists).",
    409: "A lifecycle rule refuses it, or another change or request came first.",
    413: "The request body is over 1 MiB.",
    422: "A field is missing, out of bounds or malformed (the detail names it).",
    503: "The store does not answer.",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers an operation documents, each a reference to `Problem`."""
    return {
        status: {
            "description": f"{_title(status)}: {WHAT[status]}",
            "content": {PROBLEM: {"schema": {"$ref": PROBLEM_REF}}},
        }
        for status in sorted(statuses)
    }


def _title(status: int) -> str:
    return TITLES.get(status) or HTTPStatus(status).phrase


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body",)]
    return ".".join(parts) or "body"


def as_problem(error: Exception) -> Problem | None:
    """The problem an exception answers with; None for a failure (a server error)."""
    if isinstance(error, Refused):
        return Problem(title=error.title, status=error.status, detail=error.detail)
    if isinstance(error, RequestValidationError):
        detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in error.errors())
        return Problem(title="Unprocessable Content", status=422, detail=detail)
    if isinstance(error, StarletteHTTPException):
        title = HTTPStatus(error.status_code).phrase
        return Problem(title=title, status=error.status_code, detail=str(error.detail))
    if isinstance(error, EpisodeNotFoundError):
        return Problem(title="Not Found", status=404, detail=str(error))
    if isinstance(error, DomainError):
        return Problem(title="Conflict", status=409, detail=str(error))
    return None


def body(found: Problem) -> dict[str, Any]:
    """A problem as it is sent (and kept for an idempotent retry)."""
    return found.model_dump(exclude_none=True)


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A refusal as problem+json (its request id is in the X-Request-ID header)."""
    return answer(Problem(title=title, status=status, detail=detail), headers)


def answer(found: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    if found.status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body(found), status_code=found.status, media_type=PROBLEM, headers=headers)


async def _handle(_: Request, error: Exception) -> JSONResponse:
    found = as_problem(error)
    if found is None:  # (never: each handler is installed for a class as_problem maps)
        raise error
    return answer(found)


def install(app: FastAPI) -> None:
    """Answer every refusal as problem+json, and put `Problem` in the OpenAPI components."""
    for kind in (
        Refused,
        StarletteHTTPException,
        RequestValidationError,
        EpisodeNotFoundError,
        DomainError,
    ):
        app.add_exception_handler(kind, _handle)
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _problems_only(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problems_only(document: dict[str, Any]) -> dict[str, Any]:
    """Add `Problem` to the components, and drop the validation-error answer FastAPI gives an
    operation that does not document 422 itself (its parameters cannot be malformed: a path
    segment taken as it is), with the schemas only that answer used."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template=PROBLEM_REF)
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            if "422" in answers and PROBLEM not in answers["422"].get("content", {}):
                del answers["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    return document
