"""The HTTP API: commands for every lifecycle step, queries from the read models.

The edge translates and never decides: it checks who is calling and what the consent statement
allows (aggregates.access), makes one application call, and maps refusals to problem+json
(422 malformed input, 401/403 who you are and what you may do, 404 unknown episode, 409 a
lifecycle rule or a version conflict). Nothing is recorded on any error.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import tomllib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, Literal

from eventsourcing.persistence import Tracking
from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException

from aggregates.access import (
    Decision,
    Principal,
    Role,
    may_open,
    may_read,
    may_read_access_log,
    may_record,
    may_see_authority,
)
from aggregates.alerts import ALERT_ROLES, episode_of_alert
from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.episode import Origin
from aggregates.errors import ChildAlreadyOpenError, DomainError
from aggregates.schemes import Grade, SchemeName
from ehqa import bounds, idempotency
from ehqa import commands as cmd
from ehqa.application import ConflictError, EpisodeExistsError, EpisodeNotFoundError
from ehqa.auth import (
    AccessLog,
    Authenticator,
    JwtVerifier,
    OidcSettings,
    TokenBook,
    Unauthenticated,
)
from ehqa.filters import UnknownValueError, check_filters
from ehqa.idempotency import IdempotencyKeys, KeyReused, StillRunning
from ehqa.limits import Limits
from ehqa.present import audit_json
from ehqa.query_params import refuse_undocumented
from ehqa.services import Services
from projections.queries import BoardRow
from projections.reports import grade_report, theme_report
from projections.runner import follow
from schedulers.scheduler import run_every

log = logging.getLogger("ehqa.api")
PROBLEM = "application/problem+json"


# ---- response models --------------------------------------------------------------------------


class Problem(BaseModel):
    type: str = "about:blank"
    title: str
    status: int
    detail: str
    request_id: str | None = None


class Lead(BaseModel):
    name: str
    agency: str
    subject: str | None = None


class EpisodeOut(BaseModel):
    episode: str
    child: str
    state: str
    lead: Lead | None
    policy: str
    origin: str
    pre_birth: bool
    opened_on: date
    consent_agencies: list[str]
    closed_on: date | None
    closed_reason: str | None
    closure_summary: str | None
    version: int


class ClockOut(BaseModel):
    episode: str
    clock: str
    occurrence: int
    started_on: date
    due_on: date
    stopped_on: date | None
    status: str
    working_days_late: int
    exception: str | None
    lead: str | None = None
    agency: str | None = None
    policy: str | None = None


class TimelineItem(BaseModel):
    model_config = ConfigDict(extra="allow")
    on: date
    event: str
    recorded_at: str | None = None
    label: str | None = None


class WorstClock(BaseModel):
    episode: str
    clock: str
    due_on: date
    working_days_late: int


class CaseloadOut(BaseModel):
    lead: str | None = None
    agency: str | None
    lead_professionals: int | None = None
    open_episodes: int
    overdue_clocks: int
    worst: WorstClock | None


class AlertOut(BaseModel):
    id: str
    episode: str
    clock: str
    occurrence: int
    rung: str
    fell_due_on: date
    raised_on: date
    recipients: list[str]
    acknowledged_by: str | None
    acknowledged_on: date | None
    cleared_on: date | None
    lead: str | None
    agency: str | None


class AccessOut(BaseModel):
    at: str
    subject: str | None
    who: str
    role: str
    agency: str | None
    action: str
    episode: str | None


class Health(BaseModel):
    status: str
    views: dict[str, int] = Field(default_factory=dict)


class Ready(Health):
    dead_letters: dict[str, int] = Field(default_factory=dict)  # events each view skipped


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "content": {PROBLEM: {"schema": Problem.model_json_schema()}}}
    for code in (400, 401, 403, 404, 409, 422)
}


# ---- errors ------------------------------------------------------------------------------------


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A refusal as problem+json (its request id is in the X-Request-ID header)."""
    body = Problem(title=title, status=status, detail=detail)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM, headers=headers
    )


def check(decision: Decision) -> None:
    if not decision.allowed:
        raise Refused(403, "Forbidden", decision.reason)


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body",)]
    return ".".join(parts) or "body"


# ---- the application -----------------------------------------------------------------------------


class Api:
    """What the routes share: one Services (guarded by a lock), tokens and the access log."""

    def __init__(self, services: Services, verifier: JwtVerifier | None = None) -> None:
        self.services = services
        self.lock = threading.RLock()
        self.tokens = TokenBook(services.views)
        self.auth = Authenticator(self.tokens, verifier)
        self.access = AccessLog(services.views)
        self.keys = IdempotencyKeys(services.views)
        self.staff: dict[str, str] = {}  # worker -> line manager (EHQA_STAFF_FILE)

    def who(self, authorization: str | None) -> Principal:
        try:
            with self.lock:
                return self.auth.principal(authorization)
        except Unauthenticated as error:
            raise Refused(401, "Unauthorized", str(error)) from None

    def episode_view(self, reference: str) -> dict[str, Any]:
        self.services.catch_up()
        view = self.services.read.episode(reference)
        if view is None:
            raise Refused(404, "Not Found", f"no episode {reference}")
        return view

    @contextmanager
    def authority_read(self, authorization: str | None, what: str) -> Iterator[None]:
        """An authority-wide query: refused to agency roles; answered from current views, under
        the lock, and recorded in the access log."""
        who = self.who(authorization)
        check(may_see_authority(who))
        with self.lock:
            self.services.catch_up()
            self.access.record(who, what)
            yield

    def episode_json(self, reference: str) -> Any:
        """The episode as a command's answer (dates as text, as it is kept for replays)."""
        return json.loads(json.dumps(self.episode_view(reference), default=str))

    def visible(self, who: Principal, reference: str) -> dict[str, Any]:
        """The episode, if the caller may read it. A caller who may not gets the same 404 as
        for an episode that does not exist: a refusal must not tell them it exists."""
        view = self.episode_view(reference)
        if not may_read(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]).allowed:
            raise Refused(404, "Not Found", f"no episode {reference}")
        return view

    def readable(self, who: Principal, reference: str, action: str) -> dict[str, Any]:
        view = self.visible(who, reference)
        self.access.record(who, action, reference)
        return view

    def writable(self, who: Principal, reference: str) -> dict[str, Any]:
        """The episode, if the caller may record on it (404 if they may not even read it)."""
        view = self.visible(who, reference)
        check(may_record(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]))
        return view


def create_app(services: Services, verifier: JwtVerifier | None = None, background: bool = False,
               sweep_interval: float = 300) -> FastAPI:  # fmt: skip
    api = Api(services, verifier)
    stop = threading.Event()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        workers = (
            _start_background(services.database_url, stop, sweep_interval) if background else []
        )
        yield
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    app = FastAPI(
        title="ehqa",
        version="0.1.0",
        summary="Early Help Assessment episodes, their clocks, alerts and access.",
        lifespan=lifespan,
    )
    app.state.api = api
    _errors(app)
    refuse_undocumented(app)
    app.add_middleware(Limits)  # (before the log's, so that the log wraps both)
    _middleware(app)
    _routes(app, api)
    return app


def _errors(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def refused(_: Request, error: Refused) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return problem(error.status, error.title, error.detail, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(error.status_code).phrase
        return problem(error.status_code, title, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def malformed(_: Request, error: RequestValidationError) -> JSONResponse:
        detail = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in error.errors())
        return problem(422, "Unprocessable Content", detail)

    @app.exception_handler(EpisodeNotFoundError)
    async def not_found(_: Request, error: EpisodeNotFoundError) -> JSONResponse:
        return problem(404, "Not Found", str(error))

    @app.exception_handler(DomainError)
    async def conflict(_: Request, error: DomainError) -> JSONResponse:
        return problem(409, "Conflict", str(error))


def _middleware(app: FastAPI) -> None:
    @app.middleware("http")
    async def structured_log(request: Request, call_next: Callable[[Request], Any]) -> Response:
        """One JSON line per request, with a request id that the response carries (header
        X-Request-ID; and `request_id` in a server error's problem body). A server error is
        logged with its cause and answered as problem+json, never as a bare traceback."""
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        request.state.request_id = request_id
        line: dict[str, Any] = {"request_id": request_id, "method": request.method,
                                "path": request.url.path}  # fmt: skip
        try:
            response: Response = await call_next(request)
        except Exception as error:
            line |= {"status": 500, "error": f"{type(error).__name__}: {error}"[:2000]}
            log.error(json.dumps(line | {"ms": _ms(started)}), exc_info=error)
            body = Problem(title="Internal Server Error", status=500, request_id=request_id,
                           detail="the server failed; quote the request id when reporting it")  # fmt: skip
            response = JSONResponse(body.model_dump(), status_code=500, media_type=PROBLEM)
        else:
            log.info(json.dumps(line | {"status": response.status_code, "ms": _ms(started)}))
        response.headers["X-Request-ID"] = request_id
        return response


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


Auth = Annotated[str | None, Header(alias="Authorization", description="Bearer <token>")]
AsAt = Annotated[
    date | None,
    Query(ge=FIRST_DAY, le=LAST_DAY, description="Status as at this date (default: today)."),
]
AlertsFor = Annotated[
    str | None,
    Query(alias="for", max_length=300, description="A person's subject (e.g. token:..., or an"
          " OIDC issuer#sub), or a role: " + ", ".join(ALERT_ROLES) + "."),
]  # fmt: skip
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, pattern=r"^[\x21-\x7e]+$",
           description="Retries with the same key record once (1-255 printable ASCII"
           " characters, no spaces)."),
]  # fmt: skip


def _may_read_episode(api: Api, who: Principal, reference: str) -> bool:
    """From the views as they stand (the caller has caught them up): no catch-up per call."""
    view = api.services.read.episode(reference)
    if view is None:
        return False
    return may_read(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]).allowed


def _clock_json(row: BoardRow, board: bool = False) -> dict[str, Any]:
    e = row.entry
    found = {
        "episode": row.episode, "clock": e.clock.value, "occurrence": e.occurrence,
        "started_on": e.started_on, "due_on": e.due_on, "stopped_on": e.stopped_on,
        "status": e.status.value, "working_days_late": e.working_days_late, "exception": e.exception,
    }  # fmt: skip
    if board:
        found |= {"lead": row.lead_name, "agency": row.lead_agency, "policy": row.policy}
    return found


def _known(services: Services, **values: str | None) -> None:
    """A filter value that matches nothing: 400, naming the parameter and the known values
    (asked only on authority-wide routes, so an agency caller never sees the list)."""
    try:
        check_filters(services, **values)
    except UnknownValueError as error:
        raise Refused(400, "Bad Request", error.detail()) from None


def _body_model(command: type[cmd._Command]) -> type[BaseModel]:
    """The request body of a command: its fields without `cmd` and `episode`."""
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in command.model_fields.items()
        if name not in ("cmd", "episode")
    }
    return create_model(f"{command.__name__}Body", __config__=ConfigDict(extra="forbid"), **fields)


COMMANDS: dict[str, type[cmd._Command]] = {
    model.model_fields["cmd"].annotation.__args__[0]: model  # type: ignore[union-attr]
    for model in (
        cmd.RecordConsent, cmd.WithholdConsent, cmd.WithdrawConsent, cmd.FinaliseAssessment,
        cmd.DecideFam, cmd.HoldFam, cmd.AgreeSingleAgencyPlan, cmd.CirculatePlan, cmd.HoldReview,
        cmd.SeeChild, cmd.ChangeLead, cmd.StartGcp2, cmd.CompleteGcp2, cmd.RecordException,
        cmd.StepUp, cmd.RecordMashOutcome, cmd.Close, cmd.RecordFeedback, cmd.RequestPanel,
        cmd.RecordPanelOutcome, cmd.RecordPanelReview, cmd.RecordNeeds, cmd.RecordOutcomes,
        cmd.RecordSustainedCheck,
    )
}  # fmt: skip


class OpenBody(BaseModel):
    """Open an episode: the fields of the `open` import command."""

    model_config = ConfigDict(extra="forbid")
    episode: bounds.PathReference
    on: date
    child: bounds.Reference
    lead: cmd.Lead
    origin: Origin = Origin.REFERRAL
    pre_birth: bool = False
    recent_social_care_assessment: bool = False
    policy: bounds.Code | None = None


Run = Callable[[Tracking | None, bool], tuple[int, Any]]


def _idempotent(api: Api, who: Principal, key: str | None, request: str, run: Run,
                reference: str) -> JSONResponse:  # fmt: skip
    """Run a command once per (caller's subject, Idempotency-Key); a retry gets the first
    answer back. Refusals are answers too (a retry of a refused command is refused alike).
    `run(tracking, recorded)` records the command with `tracking` in its transaction, or, if
    `recorded` (an attempt that died before answering had recorded it), only answers."""
    if key is None:
        status, body = run(None, False)
        return JSONResponse(body, status_code=status)
    try:
        with api.lock:
            earlier = api.keys.claim(who.subject, key, request)
    except KeyReused:
        raise Refused(422, "Unprocessable Content",
                      f"Idempotency-Key {key!r} was used for another request") from None  # fmt: skip
    except StillRunning:
        raise Refused(409, "Conflict", f"a request with Idempotency-Key {key!r} is still being"
                      " handled; retry in a few seconds") from None  # fmt: skip
    if isinstance(earlier, idempotency.Answer):
        if earlier.status < 400:  # the episode it shows: only while the caller may still read it
            with api.lock:
                api.readable(who, reference, "replay of a recorded command")
        media = PROBLEM if earlier.status >= 400 else "application/json"
        return JSONResponse(earlier.body, status_code=earlier.status, media_type=media)
    mark = idempotency.tracking(who.subject, key)

    def recorded() -> bool:
        return bool(api.services.app.recorder.max_tracking_id(mark.application_name))

    try:
        try:
            status, body = run(mark, recorded())
        except ConflictError:
            if not recorded():
                raise
            # an earlier attempt (whose lease ran out while it was still working) recorded
            # the command meanwhile: answer as it would have
            status, body = run(mark, True)
    except Exception as error:
        status, body = _refusal(error)
        with api.lock:
            if status is None:
                api.keys.release(who.subject, key, earlier)
            else:
                api.keys.answer(who.subject, key, earlier, status, body)
        raise
    with api.lock:
        api.keys.answer(who.subject, key, earlier, status, body)
    return JSONResponse(body, status_code=status)


def _child_open(api: Api, who: Principal, error: ChildAlreadyOpenError) -> Exception:
    """The child already has an open episode: named to a caller who may read it, not named to
    one who may not (that would tell them it exists, and who holds it)."""
    try:
        api.visible(who, error.episode)
    except Refused:
        return Refused(409, "Conflict", f"child {error.child} cannot have a new episode opened"
                       " by your agency now; ask the Early Help co-ordinator")  # fmt: skip
    return error


def _refusal(error: Exception) -> tuple[Any, Any]:
    if isinstance(error, Refused):
        return error.status, Problem(
            title=error.title, status=error.status, detail=error.detail
        ).model_dump(exclude_none=True)
    if isinstance(error, EpisodeNotFoundError):
        return 404, Problem(title="Not Found", status=404, detail=str(error)).model_dump(
            exclude_none=True
        )
    if isinstance(error, DomainError):
        return 409, Problem(title="Conflict", status=409, detail=str(error)).model_dump(
            exclude_none=True
        )
    return None, None


def _routes(app: FastAPI, api: Api) -> None:
    s = api.services

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", response_model=Ready, tags=["service"], responses={503: ERRORS[409]})
    def ready() -> Any:
        """Readiness: the store answers and the views are caught up. Events a view could not
        apply and skipped are counted in `dead_letters` (they do not make it unready)."""
        try:
            with api.lock:
                s.catch_up()
                found = s.status()
        except Exception as error:  # the store is unreachable: the cause is logged, not shown
            log.error(json.dumps({"ready": "store does not answer", "error": str(error)[:2000]}))
            return problem(503, "Service Unavailable", "the store does not answer (see the log)")
        views = {v.name: v.position for v in found}
        return {"status": "ready", "views": views,
                "dead_letters": {v.name: v.dead_letters for v in found}}  # fmt: skip

    @app.post(
        "/episodes", status_code=201, response_model=EpisodeOut, tags=["commands"], responses=ERRORS
    )
    def open_episode(
        body: OpenBody, authorization: Auth = None, idempotency_key: IdempotencyKey = None
    ) -> Any:
        """Open an episode (a referral, or a step-down from social care). A lead professional
        who opens an episode for their own agency leads it, unless `lead.subject` names another
        person; alerts for the lead go to that subject."""
        who = api.who(authorization)
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
                    if not _may_read_episode(api, who, data["episode"]):
                        raise Refused(409, "Conflict", "that reference cannot be used; choose"
                                      " another") from None  # fmt: skip
                    raise error from None
                api.access.record(who, "record open", data["episode"])
                return 201, api.episode_json(data["episode"])

        request = json.dumps(["open", data], default=str)
        return _idempotent(api, who, idempotency_key, request, run, data["episode"])

    for name, model in COMMANDS.items():
        _command_route(app, api, name, model)
    _audit_routes(app, api)

    @app.get("/episodes/{reference}", response_model=EpisodeOut, tags=["queries"], responses=ERRORS)
    def get_episode(reference: str, authorization: Auth = None, as_at: Annotated[
            date | None, Query(ge=FIRST_DAY, le=LAST_DAY, description="Where it stood on this"
                               " business date, from the events dated on or before it.")] = None) -> Any:  # fmt: skip
        """Where one episode stands, or stood as at a date (the read is recorded in the access
        log; who may read it is decided by the consent statement as it is now)."""
        who = api.who(authorization)
        with api.lock:
            view = api.readable(who, reference, "episode")
            if as_at is None:
                return view
            then = s.episode_as_at(reference, as_at)
            if then is None:
                raise Refused(
                    404, "Not Found", f"episode {reference} was not yet opened on {as_at}"
                )
            return then

    @app.get(
        "/episodes/{reference}/timeline",
        response_model=list[TimelineItem],
        tags=["queries"],
        responses=ERRORS,
    )
    def timeline(reference: str, authorization: Auth = None, milestones: bool = False,
                 as_at: AsAt = None) -> Any:  # fmt: skip
        """The episode's events in business-date order (with clock milestones if asked)."""
        who = api.who(authorization)
        with api.lock:
            api.readable(who, reference, "timeline")
            return s.read.timeline(reference, milestones=milestones, as_at=as_at or s.app.clock())

    @app.get(
        "/episodes/{reference}/deadlines",
        response_model=list[ClockOut],
        tags=["queries"],
        responses=ERRORS,
    )
    def episode_deadlines(reference: str, authorization: Auth = None, as_at: AsAt = None) -> Any:
        """Every clock of the episode, as at a date."""
        who = api.who(authorization)
        with api.lock:
            api.readable(who, reference, "deadlines")
            return [_clock_json(r) for r in s.read.deadlines(reference, as_at or s.app.clock())]

    @app.get(
        "/episodes/{reference}/access-log",
        response_model=list[AccessOut],
        tags=["access"],
        responses=ERRORS,
    )
    def episode_access_log(reference: str, authorization: Auth = None,
                           limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Any:  # fmt: skip
        """Who read this episode, newest first (admins and inspectors)."""
        who = api.who(authorization)
        check(may_read_access_log(who))
        with api.lock:
            api.episode_view(reference)
            api.access.record(who, "episode access log", reference)
            return api.access.entries(reference, limit)

    @app.get("/deadlines", response_model=list[ClockOut], tags=["queries"], responses=ERRORS)
    def deadlines(authorization: Auth = None, as_at: AsAt = None,
                  limit: Annotated[int, Query(ge=1, le=100_000)] = 1000) -> Any:  # fmt: skip
        """Every clock of every episode, as at a date (authority-wide roles)."""
        with api.authority_read(authorization, "deadlines"):
            return [_clock_json(r) for r in s.read.deadlines(None, as_at or s.app.clock())[:limit]]

    @app.get("/drift", response_model=list[ClockOut], tags=["queries"], responses=ERRORS)
    def drift(authorization: Auth = None, as_at: AsAt = None, agency: str | None = None,
              lead: str | None = None, policy: str | None = None, clock: str | None = None,
              due_within: Annotated[int | None, Query(ge=0, le=260)] = None,
              limit: Annotated[int, Query(ge=1, le=10_000)] = 200) -> Any:  # fmt: skip
        """The drift board: overdue clocks worst first, or those due in the next N working days."""
        with api.authority_read(authorization, "drift board"):
            _known(s, agency=agency, lead=lead, policy=policy, clock=clock)
            rows = s.read.drift(as_at or s.app.clock(), agency=agency, lead=lead, policy=policy,
                                clock=clock, due_within=due_within, limit=limit)  # fmt: skip
            return [_clock_json(r, board=True) for r in rows]

    @app.get("/caseloads", response_model=list[CaseloadOut], tags=["queries"], responses=ERRORS)
    def caseloads(authorization: Auth = None, as_at: AsAt = None, by_agency: bool = False) -> Any:
        """Open episodes per lead professional (or agency) with their worst clock."""
        with api.authority_read(authorization, "caseloads"):
            when = as_at or s.app.clock()
            return s.read.agency_loads(when) if by_agency else s.read.caseloads(when)

    @app.get("/alerts", response_model=list[AlertOut], tags=["alerts"], responses=ERRORS)
    def alerts(authorization: Auth = None, as_at: AsAt = None, to: AlertsFor = None,
               all: bool = False) -> Any:  # fmt: skip
        """Open alerts. A lead professional or practitioner sees only the alerts addressed to
        them (by their sign-in subject) on episodes they may read; authority-wide roles see all,
        or with `for`, those addressed to one subject or one role."""
        who = api.who(authorization)
        with api.lock:
            s.catch_up()
            when = as_at or s.app.clock()
            if may_see_authority(who).allowed:
                try:
                    check_filters(s, **{"for": to})
                except UnknownValueError as error:
                    raise Refused(400, "Bad Request", error.detail("for")) from None
                role = to if to in ALERT_ROLES else None
                found = s.read.alerts(when, None if role else to, role, include_cleared=all)
            else:
                if to not in (None, who.subject):
                    raise Refused(403, "Forbidden", f"a {who.role.value} sees their own alerts")
                found = [a for a in s.read.alerts(when, who.subject, include_cleared=all)
                         if _may_read_episode(api, who, a["episode"])]  # fmt: skip
            api.access.record(who, "alerts")
            return found

    @app.post(
        "/alerts/{ident:path}/ack", response_model=AlertOut, tags=["alerts"], responses=ERRORS
    )
    def acknowledge(ident: str, authorization: Auth = None) -> Any:
        """Acknowledge an alert (it stays open until the awaited step happens)."""
        who = api.who(authorization)
        reference = episode_of_alert(ident)
        with api.lock:
            api.writable(who, reference)
            if not may_see_authority(who).allowed and not any(
                a["id"] == ident for a in s.read.alerts(s.app.clock(), who.subject)
            ):  # an agency caller acknowledges only the alerts addressed to them
                raise Refused(404, "Not Found", f"no alert {ident} addressed to you")
            s.app.acknowledge_alert(ident, who.name, by=who.subject)
            api.access.record(who, f"acknowledge alert {ident}", reference)
            s.catch_up()
            return next(
                a for a in s.read.alerts(s.app.clock(), include_cleared=True) if a["id"] == ident
            )

    @app.get("/access-log", response_model=list[AccessOut], tags=["access"], responses=ERRORS)
    def access_log(
        authorization: Auth = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> Any:
        """Every recorded read, newest first (admins and inspectors)."""
        who = api.who(authorization)
        check(may_read_access_log(who))
        with api.lock:
            api.access.record(who, "access log")
            return api.access.entries(None, limit)


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reference: bounds.PathReference
    episode: bounds.Reference
    scheme: SchemeName
    auditor: bounds.Name | None = Field(default=None, description="Default: the caller.")
    auditor_subject: bounds.Subject | None = Field(
        default=None,
        description="The auditor's sign-in subject (default: the caller's, when `auditor` is"
        " not given). Only that subject may work on the audit as an auditor.",
    )
    reason: bounds.FreeText = ""
    kind: Literal["detailed", "brief", "one_to_one"] = "detailed"
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ScoreBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")
    value: int | Annotated[str, Field(min_length=1, max_length=40)]
    evidence: bounds.RequiredText
    override_reason: bounds.FreeText = ""
    action: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class CompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grade: Literal["Outstanding", "Good", "Requires Improvement", "Inadequate"] | None = None
    reason: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=r"^[0-9]{1,4}$")
    who: bounds.Name
    what: bounds.RequiredText
    due_on: date | None = Field(
        default=None, ge=FIRST_DAY, le=LAST_DAY, description="Default: 10 working days."
    )
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class ConcernBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: bounds.RequiredText
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class FlagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Literal["childs_voice_absent", "safeguarding_not_considered"]
    value: StrictBool = True
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class OnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class DiscussionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker: bounds.Name
    manager: bounds.Name
    notes: bounds.FreeText = ""
    on: date = Field(ge=FIRST_DAY, le=LAST_DAY)


class AuditOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    audit: str
    episode: str
    scheme: str
    auditor: str
    grade: str | None


AUDITING = {Role.AUDITOR, Role.COORDINATOR, Role.ADMIN}


def _audit_routes(app: FastAPI, api: Api) -> None:
    s = api.services

    def may_audit(who: Principal) -> None:
        if who.role not in AUDITING:
            raise Refused(403, "Forbidden", f"a {who.role.value} does not audit")

    def may_work_on(who: Principal, audit: Any) -> None:
        """An auditor works on the audits assigned to their subject (never matched by name)."""
        may_audit(who)
        if who.role is Role.AUDITOR and audit.auditor_subject != who.subject:
            raise Refused(
                403, "Forbidden", f"an auditor works on their own audits, not {audit.auditor}'s"
            )

    def change(who: Principal, reference: str, command: Callable[[Any, date], Any],
               what: str) -> Any:  # fmt: skip
        with api.lock:
            may_work_on(who, s.app.get_audit(reference))
            audit = s.app.change_audit(reference, command, by=who.subject)
            api.access.record(who, f"audit {what} {reference}", audit.episode)
            s.catch_up()
            return audit_json(audit)

    def read_audit(who: Principal, reference: str, what: str) -> Any:
        check(may_see_authority(who))
        audit = s.app.get_audit(reference)
        api.access.record(who, f"audit {what} {reference}", audit.episode)
        return audit

    @app.post(
        "/audits", status_code=201, response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def assign(body: AssignBody, authorization: Auth = None) -> Any:
        """Assign an audit (refused for an auditor involved in the episode or managing its lead)."""
        who = api.who(authorization)
        may_audit(who)
        mine = body.auditor is None and body.auditor_subject in (None, who.subject)
        if who.role is Role.AUDITOR and not mine:
            raise Refused(403, "Forbidden", "an auditor assigns audits to themselves")
        auditor = body.auditor or who.name
        subject = who.subject if mine else body.auditor_subject
        with api.lock:
            audit = s.assign_audit(body.reference, episode=body.episode, scheme=body.scheme.value,
                                   auditor=auditor, reason=body.reason, on=body.on, managers=api.staff,
                                   kind=body.kind, auditor_subject=subject, by=who.subject)  # fmt: skip
            api.access.record(who, f"audit assign {body.reference}", body.episode)
            s.catch_up()
            return audit_json(audit)

    @app.get("/audits/{reference}", response_model=AuditOut, tags=["audits"], responses=ERRORS)
    def get_audit(reference: str, authorization: Auth = None) -> Any:
        """An audit: scores with evidence, grade, actions, discussion and concerns."""
        who = api.who(authorization)
        with api.lock:
            return audit_json(read_audit(who, reference, "read"))

    @app.get("/audits/{reference}/proposals", tags=["audits"], responses=ERRORS)
    def proposals(reference: str, authorization: Auth = None) -> dict[str, Any]:
        """What the record proves for A1, R6, R8 and the closure section, with the facts."""
        who = api.who(authorization)
        with api.lock:
            found = s.app.proposals(read_audit(who, reference, "proposals").episode)
        return {k: {"score": p.score, "grade": p.grade and p.grade.label, "facts": list(p.facts)}
                for k, p in found.items()}  # fmt: skip

    @app.post(
        "/audits/{reference}/scores", response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def score(reference: str, body: ScoreBody, authorization: Auth = None) -> Any:
        """Score an item, section, dimension or standard with its evidence (overriding a
        proposal from the record needs a reason)."""
        who = api.who(authorization)
        may_audit(who)  # before the audit is looked up: no answer tells a non-auditor it exists
        with api.lock:
            proposed = s.app.proposed_value(s.app.get_audit(reference), body.item)
        return change(who, reference, lambda a, t: a.score(
            body.item, body.value, body.evidence, body.on, t, proposed=proposed,
            override_reason=body.override_reason, action=body.action), f"score {body.item}")  # fmt: skip

    @app.post(
        "/audits/{reference}/complete", response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def complete(reference: str, body: CompleteBody, authorization: Auth = None) -> Any:
        """Complete with the scheme's grade (or, where it allows, the auditor's, with a reason)."""
        who = api.who(authorization)
        grade = Grade.parse(body.grade) if body.grade else None
        return change(
            who, reference, lambda a, t: a.complete(body.on, t, grade, body.reason), "complete"
        )

    @app.post(
        "/audits/{reference}/actions", response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def issue_action(reference: str, body: ActionBody, authorization: Auth = None) -> Any:
        """Issue a SMART action; it runs on the audit_actions clock."""
        who = api.who(authorization)
        may_audit(who)
        with api.lock:
            due = body.due_on or s.app.action_due(s.app.get_audit(reference), body.on)
        return change(
            who,
            reference,
            lambda a, t: a.issue_action(body.number, body.who, body.what, due, body.on, t),
            f"action {body.number}",
        )

    @app.post(
        "/audits/{reference}/concerns", response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def concern(reference: str, body: ConcernBody, authorization: Auth = None) -> Any:
        """Raise a safeguarding concern found while auditing: delivered as an alert at once."""
        who = api.who(authorization)
        return change(
            who,
            reference,
            lambda a, t: a.raise_safeguarding_concern(body.note, body.on, t),
            "concern",
        )

    @app.post(
        "/audits/{reference}/flags", response_model=AuditOut, tags=["audits"], responses=ERRORS
    )
    def flag(reference: str, body: FlagBody, authorization: Auth = None) -> Any:
        """St Helens' overrides: childs_voice_absent, safeguarding_not_considered."""
        who = api.who(authorization)
        return change(
            who, reference, lambda a, t: a.flag(body.name, body.value, body.on, t), "flag"
        )

    @app.post("/audits/{reference}/actions/{number}/complete", response_model=AuditOut, tags=["audits"],
              responses=ERRORS)  # fmt: skip
    def complete_action(
        reference: str, number: str, body: OnBody, authorization: Auth = None
    ) -> Any:
        """Record an audit action completed (its clock stops, its alerts clear)."""
        who = api.who(authorization)
        return change(
            who,
            reference,
            lambda a, t: a.complete_action(number, body.on, t),
            f"action {number} completed",
        )

    @app.post(
        "/audits/{reference}/discussions",
        response_model=AuditOut,
        tags=["audits"],
        responses=ERRORS,
    )
    def discuss(reference: str, body: DiscussionBody, authorization: Auth = None) -> Any:
        """The discussion of the audit with the worker and their manager."""
        who = api.who(authorization)
        return change(
            who,
            reference,
            lambda a, t: a.record_discussion(body.worker, body.manager, body.notes, body.on, t),
            "discussion",
        )

    @app.get("/audit-reports", tags=["audits"], responses=ERRORS)
    def report(
        authorization: Auth = None,
        by: Literal["scheme", "agency", "quarter", "auditor", "section", "themes"] = "scheme",
    ) -> list[dict[str, Any]]:
        """Grades of completed audits by scheme, agency, quarter, auditor or section; or the board's themes."""
        who = api.who(authorization)
        check(may_see_authority(who))
        with api.lock:
            s.catch_up()
            audits = s.read.audits()
            api.access.record(who, f"audit report by {by}")
        return theme_report(audits) if by == "themes" else grade_report(audits, by)


def _command_route(app: FastAPI, api: Api, name: str, model: type[cmd._Command]) -> None:
    body_model = _body_model(model)
    s = api.services

    def handle(
        reference: str, body: BaseModel, authorization: str | None, key: str | None
    ) -> JSONResponse:
        who = api.who(authorization)
        data = body.model_dump(mode="json")
        command = model(cmd=name, episode=reference, **data)  # type: ignore[call-arg]

        def run(tracking: Tracking | None, recorded: bool) -> tuple[int, Any]:
            with api.lock:
                api.writable(who, reference)
                if not recorded:
                    command.apply(s.app, by=who.subject, tracking=tracking)
                api.access.record(who, f"record {name}", reference)
                return 200, api.episode_json(reference)

        return _idempotent(api, who, key, json.dumps([name, reference, data]), run, reference)

    def endpoint(reference: str, body: body_model, authorization: Auth = None,  # type: ignore[valid-type]
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:  # fmt: skip
        return handle(reference, body, authorization, idempotency_key)

    # (the body's model is made at run time, so its annotation is given as the model itself)
    endpoint.__annotations__ = {
        "reference": bounds.Reference, "body": body_model, "authorization": Auth,
        "idempotency_key": IdempotencyKey, "return": JSONResponse,
    }  # fmt: skip
    endpoint.__name__ = name
    endpoint.__doc__ = (model.__doc__ or "").strip() or name.replace("_", " ").capitalize()
    app.post(f"/episodes/{{reference}}/{name}", response_model=EpisodeOut, tags=["commands"],
             responses=ERRORS, summary=name.replace("_", " ").capitalize())(endpoint)  # fmt: skip


# ---- running it ---------------------------------------------------------------------------------


def _start_background(
    database_url: str, stop: threading.Event, interval: float
) -> list[threading.Thread]:
    """Beside the API: keep the views caught up, and wake the sweep (one sweeper per store).
    Each thread has its own Services: a database connection is never shared between threads."""
    follower, sweeper = Services(database_url), Services(database_url)

    def follow_views() -> None:
        try:
            follow(follower.app, follower.views, follower.projections, stop, poll_interval=1.0)
        finally:
            follower.close()

    def sweep() -> None:
        try:
            raised = sweeper.sweep()
            if raised:
                log.info(json.dumps({"sweep": len(raised)}))
        except Exception:
            log.exception("sweep failed")

    def sweep_every() -> None:
        try:
            run_every(sweep, interval, stop)
        finally:
            sweeper.close()

    threads = [
        threading.Thread(target=follow_views, daemon=True, name="ehqa-views"),
        threading.Thread(target=sweep_every, daemon=True, name="ehqa-sweep"),
    ]
    for thread in threads:
        thread.start()
    return threads


def from_environment() -> FastAPI:
    """The app uvicorn serves (`ehqa serve`): settings come from the environment."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    services = Services(
        os.environ.get("EHQA_DATABASE_URL", "ehqa.db"),
        policy_dir=Path(os.environ["EHQA_POLICY_DIR"])
        if os.environ.get("EHQA_POLICY_DIR")
        else None,
        default_policy=os.environ.get("EHQA_DEFAULT_POLICY", "st-helens"),
    )
    verifier = None
    if os.environ.get("EHQA_OIDC_ISSUER"):
        verifier = JwtVerifier(OidcSettings(
            issuer=os.environ["EHQA_OIDC_ISSUER"], audience=os.environ["EHQA_OIDC_AUDIENCE"],
            jwks_file=Path(os.environ["EHQA_OIDC_JWKS_FILE"]),
        ))  # fmt: skip
    app = create_app(services, verifier, background=os.environ.get("EHQA_BACKGROUND", "1") == "1",
                      sweep_interval=float(os.environ.get("EHQA_SWEEP_INTERVAL", "300")))  # fmt: skip
    if os.environ.get("EHQA_STAFF_FILE"):
        staff = tomllib.loads(Path(os.environ["EHQA_STAFF_FILE"]).read_text()).get("managers", {})
        app.state.api.staff = {str(k): str(v) for k, v in staff.items()}
    return app
