"""Episodes: open one, record each lifecycle step (a route per command of the import format,
/episodes/{reference}/<command>), and read where one stands, its timeline and its clocks."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from eventsourcing.persistence import Tracking
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aggregates.access import Principal, Role, may_open
from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.errors import ChildAlreadyOpenError
from ehqa import bounds, reads
from ehqa import commands as cmd
from ehqa.api.core import Api, check
from ehqa.api.deps import ApiDep, AsAt, Caller, IdempotencyKey, KnownAt, when
from ehqa.api.errors import Refused, responses
from ehqa.api.idempotency import idempotent
from ehqa.api.schemas import (
    BODIES,
    COMMANDS,
    ClockOut,
    EpisodeOut,
    OpenBody,
    TimelineItem,
    clock_json,
)
from ehqa.application import EpisodeExistsError
from ehqa.auth import access_rows

router = APIRouter()
RECORDING = responses(400, 401, 403, 404, 409, 413, 422)
READING = responses(400, 401, 404, 422)


def _child_open(api: Api, who: Principal, error: ChildAlreadyOpenError) -> Exception:
    """The child already has an open episode: named to a caller who may read it, not named to
    one who may not (that would tell them it exists, and who holds it)."""
    try:
        api.visible(who, error.episode)
    except Refused:
        return Refused(409, "Conflict", f"child {error.child} cannot have a new episode opened"
                       " by your agency now; ask the Early Help co-ordinator")  # fmt: skip
    return error


@router.post("/episodes", status_code=201, response_model=EpisodeOut, tags=["episodes"],
             operation_id="open_episode", responses=RECORDING)  # fmt: skip
def open_episode(
    body: OpenBody, who: Caller, api: ApiDep, idempotency_key: IdempotencyKey = None
) -> Any:
    """Open an episode (a referral, or a step-down from social care). A lead professional
    who opens an episode for their own agency leads it, unless `lead.subject` names another
    person; alerts for the lead go to that subject."""
    s = api.services
    data = body.model_dump(mode="json")
    check(may_open(who, data["lead"]["agency"]))
    if data["lead"].get("subject") is None and who.role is Role.LEAD_PROFESSIONAL:
        data["lead"]["subject"] = who.subject

    def run(tracking: Tracking | None, recorded: bool) -> tuple[int, Any]:
        with api.lock:
            try:
                if not recorded:
                    command = cmd.Open(cmd="open", **data)
                    command.apply(s.app, by=who.subject, tracking=tracking)
            except ChildAlreadyOpenError as error:
                raise _child_open(api, who, error) from None
            except EpisodeExistsError as error:
                if not api.may_read_episode(who, data["episode"]):
                    raise Refused(409, "Conflict", "that reference cannot be used; choose"
                                  " another") from None  # fmt: skip
                raise error from None
            logged = access_rows(who, [("record open", data["episode"])])
        # (outside the lock, its access-log entry committed with its views: Api.episode_json)
        return 201, api.episode_json(data["episode"], logged)

    request = json.dumps(["open", data], default=str)
    return idempotent(api, who, idempotency_key, request, run, data["episode"])


def _command_route(name: str, model: type[cmd._Command]) -> None:
    body_model = BODIES[name]

    def endpoint(reference: str, body: BaseModel, who: Principal, api: Api,
                 idempotency_key: str | None = None) -> JSONResponse:  # fmt: skip
        data = body.model_dump(mode="json")
        command = model(cmd=name, episode=reference, **data)  # type: ignore[call-arg]

        def run(tracking: Tracking | None, recorded: bool) -> tuple[int, Any]:
            with api.lock:
                api.writable(who, reference)
                if not recorded:
                    command.apply(api.services.app, by=who.subject, tracking=tracking)
                logged = access_rows(who, [(f"record {name}", reference)])
            return 200, api.episode_json(reference, logged)

        request = json.dumps([name, reference, data])
        return idempotent(api, who, idempotency_key, request, run, reference)

    # (the body's model is made at run time, so the annotations are given as the types)
    endpoint.__annotations__ = {
        "reference": bounds.Reference, "body": body_model, "who": Caller, "api": ApiDep,
        "idempotency_key": IdempotencyKey, "return": JSONResponse,
    }  # fmt: skip
    endpoint.__name__ = name
    endpoint.__doc__ = (model.__doc__ or "").strip() or name.replace("_", " ").capitalize()
    router.post(f"/episodes/{{reference}}/{name}", response_model=EpisodeOut, tags=["commands"],
                operation_id=name, summary=name.replace("_", " ").capitalize(),
                responses=RECORDING)(endpoint)  # fmt: skip


for _name, _model in COMMANDS.items():
    _command_route(_name, _model)


@router.get("/episodes/{reference}", response_model=EpisodeOut, tags=["episodes"],
            operation_id="get_episode", responses=READING)  # fmt: skip
def get_episode(reference: str, who: Caller, api: ApiDep, as_at: Annotated[
        date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="Where it stood on this"
                           " business date, from the events dated on or before it.")] = None,
        known_at: KnownAt = None) -> Any:  # fmt: skip
    """Where one episode stands, or stood as at a date, or as the record stood at a moment (the
    read is recorded in the access log; who may read it is decided by the consent statement as
    it is now)."""
    api.current()
    view = api.readable(who, reference, "episode")
    if as_at is None and known_at is None:
        return view
    asked = when(as_at, known_at, api.services.app.clock())
    then = reads.episode(api.services, reference, asked)
    if then is None:
        raise Refused(404, "Not Found", f"episode {reference} was not yet opened"
                      f" {asked.describe()}")  # fmt: skip
    return then


@router.get("/episodes/{reference}/timeline", response_model=list[TimelineItem],
            tags=["episodes"], operation_id="get_timeline", responses=READING)  # fmt: skip
def timeline(reference: str, who: Caller, api: ApiDep, milestones: bool = False,
             as_at: AsAt = None, known_at: KnownAt = None) -> Any:  # fmt: skip
    """The episode's events in business-date order (with clock milestones if asked): with
    as_at, those dated on or before it; with known_at, those recorded by then."""
    s = api.services
    api.current()
    api.readable(who, reference, "timeline")
    return reads.timeline(s, reference, when(as_at, known_at, s.app.clock()), milestones)


@router.get("/episodes/{reference}/deadlines", response_model=list[ClockOut], tags=["episodes"],
            operation_id="get_episode_deadlines", responses=READING)  # fmt: skip
def episode_deadlines(reference: str, who: Caller, api: ApiDep, as_at: AsAt = None,
                      known_at: KnownAt = None) -> Any:  # fmt: skip
    """Every clock of the episode, as at a date (as known at a moment)."""
    s = api.services
    api.current()
    api.readable(who, reference, "deadlines")
    asked = when(as_at, known_at, s.app.clock())
    with reads.reading(s, asked, reference) as read:
        return [clock_json(r) for r in read.deadlines(reference, asked.day)]
