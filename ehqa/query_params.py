"""Every query parameter an endpoint does not document is refused (400, naming it), instead of
being silently ignored: a misspelt filter would otherwise answer as if it were not there.

Given to the app as a dependency of every route (`FastAPI(dependencies=[Depends(
refuse_undocumented_query)])`): it compares the request's query keys with the declared query
parameters (their aliases, e.g. `for`) of the route the request matched, and refuses with an
HTTPException (answered as problem+json by the API's handler).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute


def declared(route: APIRoute) -> list[str]:
    """The query parameters a route documents (its own and its dependencies'), by the name a
    caller sends."""
    found, todo = [], [route.dependant]
    while todo:
        dependant = todo.pop()
        found += [field.alias for field in dependant.query_params]
        todo += dependant.dependencies
    return list(dict.fromkeys(found))


_KNOWN: dict[tuple[str, str], list[str]] = {}


async def refuse_undocumented_query(request: Request) -> None:
    """A dependency of every route (given to the app as a whole): runs once the route is
    found, before the route's other dependencies and parameters."""
    route, query = request.scope.get("route"), request.scope.get("query_string")
    if not query or not isinstance(route, APIRoute):
        return
    key = (route.path_format, ",".join(sorted(route.methods or ())))
    known = _KNOWN.get(key)
    if known is None:
        known = _KNOWN[key] = declared(route)
    given = [k for k, _ in parse_qsl(query.decode("latin-1"), keep_blank_values=True)]
    keys = dict.fromkeys(given)
    extra = [k for k in keys if k not in known]
    repeated = [k for k in keys if given.count(k) > 1]
    if repeated and not extra:  # one value each: a second would be silently dropped
        detail = f"query parameter {repeated[0]!r} is given more than once (give it once)"
        raise HTTPException(400, detail)
    if not extra:
        return
    takes = f"it takes {', '.join(known)}" if known else "it takes no query parameters"
    names = ", ".join(repr(k) for k in extra)
    plural = "s" if len(extra) > 1 else ""
    raise HTTPException(400, f"unknown query parameter{plural} {names} for {route.path} ({takes})")
