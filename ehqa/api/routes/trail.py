"""Tamper evidence for auditors, inspectors and admins: walk the log's chains (docs/trail.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from aggregates.access import ALLOWED, Decision, Principal, Role
from ehqa.api.core import check
from ehqa.api.deps import ApiDep, Caller
from ehqa.api.errors import Refused, responses
from ehqa.bounds import REFERENCE_MAX
from ehqa.store import store_env
from ehqa.trail import EpisodeUnknownError, verify

router = APIRouter(tags=["access"])

VERIFIERS = {Role.ADMIN, Role.INSPECTOR, Role.AUDITOR}


class BreakOut(BaseModel):
    kind: str
    position: int
    aggregate: str | None
    version: int | None
    detail: str


class VerifyOut(BaseModel):
    ok: bool
    events: int
    position: int
    root: str
    broken: BreakOut | None


def may_verify(who: Principal) -> Decision:
    if who.role in VERIFIERS:
        return ALLOWED
    return Decision(False, "only admins, inspectors and auditors verify the log")


@router.get("/verify", response_model=VerifyOut, operation_id="verify_log",
            responses=responses(400, 401, 403, 404, 422))  # fmt: skip
def verify_log(
    who: Caller,
    api: ApiDep,
    episode: Annotated[str | None, Query(min_length=1, max_length=REFERENCE_MAX)] = None,
) -> Any:
    """Walk the chains of the whole log (or one episode's) and report the first break: its kind
    (edited, deleted, inserted, reordered), the aggregate, its version and the log position."""
    check(may_verify(who))
    api.current()  # (the views name the episode a break concerns; a read: no lock)
    api.logged(who, "verify", episode)
    try:
        outcome, name = verify(store_env(api.services.database_url), episode)
    except EpisodeUnknownError:
        raise Refused(404, "Not Found", f"no episode {episode}") from None
    broken = outcome.broken
    return VerifyOut(
        ok=broken is None, events=outcome.events, position=outcome.head,
        root=outcome.root.hex(),
        broken=None if broken is None else BreakOut(
            kind=broken.kind, position=broken.position, aggregate=name,
            version=broken.version, detail=broken.detail,
        ),
    )  # fmt: skip
