"""Authority-wide boards: every clock, the drift board and the caseloads (refused to agency
roles; each read is recorded in the access log)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ehqa import reads
from ehqa.api.deps import ApiDep, AsAt, Caller, KnownAt, when
from ehqa.api.errors import responses
from ehqa.api.schemas import CaseloadOut, ClockOut, clock_json

router = APIRouter(tags=["boards"])
BOARD = responses(400, 401, 403, 422)


@router.get("/deadlines", response_model=list[ClockOut], operation_id="list_deadlines",
            responses=BOARD)  # fmt: skip
def deadlines(who: Caller, api: ApiDep, as_at: AsAt = None, known_at: KnownAt = None,
              limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> Any:  # fmt: skip
    """Every clock of every episode, as at a date (authority-wide roles)."""
    s = api.services
    with api.authority_read(who, "deadlines"):
        asked = when(as_at, known_at, s.app.clock())
        with reads.reading(s, asked) as read:
            return [clock_json(r) for r in read.deadlines(None, asked.day)[:limit]]


@router.get("/drift", response_model=list[ClockOut], operation_id="get_drift", responses=BOARD)
def drift(who: Caller, api: ApiDep, as_at: AsAt = None, known_at: KnownAt = None,
          agency: str | None = None,
          lead: str | None = None, policy: str | None = None, clock: str | None = None,
          due_within: Annotated[int | None, Query(ge=0, le=260)] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> Any:  # fmt: skip
    """The drift board: overdue clocks worst first, or those due in the next N working days."""
    s = api.services
    with api.authority_read(who, "drift board"):
        api.known(agency=agency, lead=lead, policy=policy, clock=clock)
        asked = when(as_at, known_at, s.app.clock())
        with reads.reading(s, asked) as read:
            rows = read.drift(asked.day, agency=agency, lead=lead, policy=policy, clock=clock,
                              due_within=due_within, limit=limit)  # fmt: skip
        return [clock_json(r, board=True) for r in rows]


@router.get("/caseloads", response_model=list[CaseloadOut], operation_id="list_caseloads",
            responses=BOARD)  # fmt: skip
def caseloads(who: Caller, api: ApiDep, as_at: AsAt = None, known_at: KnownAt = None,
              by_agency: bool = False) -> Any:  # fmt: skip
    """Open episodes per lead professional (or agency) with their worst clock."""
    s = api.services
    with api.authority_read(who, "caseloads"):
        asked = when(as_at, known_at, s.app.clock())
        with reads.reading(s, asked) as read:
            return read.agency_loads(asked.day) if by_agency else read.caseloads(asked.day)
