"""The access log: who read or recorded what (admins and inspectors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from aggregates.access import may_read_access_log
from ehqa.api.core import check
from ehqa.api.deps import ApiDep, Caller
from ehqa.api.errors import responses
from ehqa.api.schemas import AccessOut

router = APIRouter(tags=["access"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/episodes/{reference}/access-log", response_model=list[AccessOut],
            operation_id="get_episode_access_log",
            responses=responses(400, 401, 403, 404, 422))  # fmt: skip
def episode_access_log(reference: str, who: Caller, api: ApiDep, limit: Limit = 200) -> Any:
    """Who read this episode, newest first (admins and inspectors)."""
    check(may_read_access_log(who))
    api.current()
    api.episode_view(reference)
    api.group.flush()  # (the reads still waiting to be committed are shown too)
    api.access.record(who, "episode access log", reference)
    return api.access.entries(reference, limit)


@router.get("/access-log", response_model=list[AccessOut], operation_id="get_access_log",
            responses=responses(400, 401, 403, 422))  # fmt: skip
def access_log(who: Caller, api: ApiDep, limit: Limit = 200) -> Any:
    """Every recorded read, newest first (admins and inspectors)."""
    check(may_read_access_log(who))
    api.group.flush()  # (the reads still waiting to be committed are shown too)
    api.access.record(who, "access log")
    return api.access.entries(None, limit)
