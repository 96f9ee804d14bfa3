"""The dependencies routes declare: the shared `Api` and the caller.

The caller's credentials come through a FastAPI security scheme (HTTP bearer), so the OpenAPI
document names it (`bearerAuth`), every protected operation declares it, and /docs has an
Authorize button. No route reads a header itself. Missing or bad credentials are a 401 problem
with `WWW-Authenticate: Bearer` (raised by `Api.who`, with its detail texts).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, cast

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aggregates.access import Principal
from aggregates.calendar import FIRST_DAY, LAST_DAY
from ehqa.api.core import Api

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
