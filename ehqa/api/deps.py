"""The dependencies routes declare: the shared `Api` and the caller.

The caller's credentials come through a FastAPI security scheme (HTTP bearer), so the OpenAPI
document names it (`bearerAuth`), every protected operation declares it, and /docs has an
Authorize button. No route reads a header itself. Missing or bad credentials are a 401 problem
with `WWW-Authenticate: Bearer` (raised by `Api.who`, with its detail texts).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, cast

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BeforeValidator

from aggregates.access import Principal
from aggregates.calendar import FIRST_DAY, LAST_DAY
from ehqa.api.core import Api
from ehqa.known_at import parse_moment
from ehqa.reads import When

bearer = HTTPBearer(
    scheme_name="bearerAuth",
    bearerFormat="ehqa_ API token, or the issuer's JWT",
    description="An API token (`ehqa tokens create`) or, with single sign-on, a JWT from the"
    " council's OIDC issuer.",
    auto_error=False,  # (refused by Api.who, with the API's own problem and detail)
)


def get_api(request: Request) -> Api:
    return cast(Api, request.app.state.api)


ApiDep = Annotated[Api, Depends(get_api)]


def get_caller(
    api: ApiDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Principal:
    """Who is calling: 401 without credentials, or with credentials that do not check out."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    return api.who(header)


Caller = Annotated[Principal, Depends(get_caller)]

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, pattern=r"^[\x21-\x7e]+$",
           description="Retries with the same key record once (1-255 printable ASCII"
           " characters, no spaces)."),
]  # fmt: skip

AsAt = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="Status as at this date (default: today)."),
]


def _moment(value: object) -> object:
    return None if value is None else parse_moment(str(value))


KnownAt = Annotated[
    datetime | None,
    BeforeValidator(_moment),
    Query(description="As the record stood at this moment (ISO 8601 date and"
          " time; Europe/London unless it ends in Z or an offset): facts recorded later are left"
          " out, whatever their business dates. Without as_at, the status is as at the moment's"
          " own day."),
]  # fmt: skip


def when(as_at: date | None, known_at: datetime | None, today: date) -> When:
    return When(as_at, known_at, today)
