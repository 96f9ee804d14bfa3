"""Every query parameter an endpoint does not document is refused (400, naming it), instead of
being silently ignored: a misspelt filter would otherwise answer as if it were not there.

Installed once for the whole app (`refuse_undocumented(app)`): an ASGI middleware that finds the
route a request matches and compares the request's query keys with that route's declared query
parameters (their aliases, e.g. `for`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

PROBLEM = "application/problem+json"


def declared(route: APIRoute) -> list[str]:
    """The query parameters a route documents (its own and its dependencies'), by the name a
    caller sends."""
    found, todo = [], [route.dependant]
    while todo:
        dependant = todo.pop()
        found += [field.alias for field in dependant.query_params]
        todo += dependant.dependencies
    return list(dict.fromkeys(found))


class RefuseUndocumentedQuery:
    def __init__(self, app: ASGIApp, routes: list[Any]) -> None:
        self.app, self.routes = app, routes
        self.known: dict[str, list[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            unknown = self.undocumented(scope)
            if unknown is not None:
                await unknown(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def undocumented(self, scope: Scope) -> JSONResponse | None:
        route = next(
            (
                r
                for r in self.routes
                if isinstance(r, APIRoute) and r.matches(scope)[0] is Match.FULL
            ),
            None,
        )
        if route is None:  # not found, or another method: the router answers as it does
            return None
        known = self.known.get(route.path_format + str(route.methods))
        if known is None:
            known = self.known[route.path_format + str(route.methods)] = declared(route)
        given = [k for k, _ in parse_qsl(scope["query_string"].decode("latin-1"),
                                         keep_blank_values=True)]  # fmt: skip
        keys = dict.fromkeys(given)
        extra = [k for k in keys if k not in known]
        repeated = [k for k in keys if given.count(k) > 1]
        if repeated and not extra:  # one value each: a second would be silently dropped
            detail = f"query parameter {repeated[0]!r} is given more than once (give it once)"
            body = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}
            return JSONResponse(body, status_code=400, media_type=PROBLEM)
        if not extra:
            return None
        takes = f"it takes {', '.join(known)}" if known else "it takes no query parameters"
        names = ", ".join(repr(k) for k in extra)
        plural = "s" if len(extra) > 1 else ""
        detail = f"unknown query parameter{plural} {names} for {route.path} ({takes})"
        body = {"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail}
        return JSONResponse(body, status_code=400, media_type=PROBLEM)


def refuse_undocumented(app: FastAPI) -> None:
    """Install the check on `app` (its routes are looked up at request time)."""
    app.add_middleware(RefuseUndocumentedQuery, routes=app.router.routes)
