"""The HTTP API: commands for every lifecycle step, queries from the read models.

The edge translates and never decides: it checks who is calling and what the consent statement
allows (aggregates.access), makes one application call, and maps refusals to problem+json
(422 malformed input, 401/403 who you are and what you may do, 404 unknown episode, 409 a
lifecycle rule or a version conflict). Nothing is recorded on any error.

`create_app` builds the app from a Services; `from_environment` is what `ehqa serve` runs
(uvicorn's factory "ehqa.api:from_environment"), with every setting from ehqa.settings.
The parts: `core` (what the routes share), `deps` (the caller and the services as
dependencies), `errors` (problem+json), `schemas`, `routes/` (one module per area),
`idempotency` (Idempotency-Key over HTTP), `background` (views and sweep beside a worker),
`logs` and `docs` (Swagger UI and ReDoc, offline). The pages people use in a browser
(`ehqa.web`, under /web) are added to the same app by `create_app`, with the same rules.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from fastapi import Depends, FastAPI

from ehqa.api import docs, errors, logs
from ehqa.api.background import lifespan
from ehqa.api.core import Api
from ehqa.api.routes import (
    access,
    alerts,
    audits,
    boards,
    children,
    episodes,
    exports,
    service,
    trail,
)
from ehqa.api.warm import warm
from ehqa.auth import JwtVerifier, OidcSettings
from ehqa.clock import fixed, london_today
from ehqa.limits import Limits
from ehqa.query_params import refuse_undocumented_query
from ehqa.services import Services
from ehqa.settings import Settings, load
from ehqa.web.config import WebConfig

__all__ = ["Api", "create_app", "from_environment"]

TAGS = [
    {"name": "episodes", "description": "Open an episode; where it stands, its timeline and clocks."},
    {"name": "commands", "description": "Record a lifecycle step on an episode (one per command"
     " of the import format)."},
    {"name": "boards", "description": "Authority-wide: every clock, the drift board, caseloads."},
    {"name": "alerts", "description": "Alerts raised by the sweep, and acknowledging them."},
    {"name": "audits", "description": "Case-file audits and their grade reports."},
    {"name": "access", "description": "Who read or recorded what (admins and inspectors)."},
    {"name": "service", "description": "Liveness and readiness."},
    {"name": "children", "description": "The child's record: personal fields, erasure."},
    {"name": "exports", "description": "For inspection: Annex A List 2, the SSD's early help"
     " episodes, an episode's chronology."},
]  # fmt: skip


def create_app(services: Services, verifier: JwtVerifier | None = None, background: bool = False,
               sweep_interval: float = 300, pages: WebConfig | None = None,
               digest: tuple[Path | None, str | None] = (None, None)) -> FastAPI:  # fmt: skip
    app = FastAPI(
        title="ehqa",
        version="0.1.0",
        summary="Early Help Assessment episodes, their clocks, alerts and access.",
        lifespan=lifespan(services, background, sweep_interval, digest),
        openapi_tags=TAGS,
        separate_input_output_schemas=False,
        docs_url=None,  # (served offline by ehqa.api.docs)
        redoc_url=None,
        dependencies=[Depends(refuse_undocumented_query)],  # (first, before the caller's)
    )
    app.state.api = Api(services, verifier, followed=background)
    errors.install(app)
    app.add_middleware(Limits)  # (before the log's, so that the log wraps both)
    logs.install(app)
    for area in (service, episodes, audits, boards, alerts, access, children, exports, trail):
        app.include_router(area.router)
    docs.install(app)
    from ehqa.web.app import install  # (here: the pages' modules import the API's)

    install(app, pages)  # the pages under /web (after errors: their handlers wrap the API's)
    return app


def verifier_of(settings: Settings) -> JwtVerifier | None:
    """The single sign-on verifier the settings name, if any (its keys read or fetched now)."""
    if not settings.oidc_issuer:
        return None
    return JwtVerifier(OidcSettings(
        issuer=settings.oidc_issuer, audience=settings.oidc_audience or "",
        jwks_file=settings.oidc_jwks_file, jwks_url=settings.oidc_jwks_url,
    ))  # fmt: skip


def from_environment() -> FastAPI:
    """The app uvicorn serves (`ehqa serve`): every setting from ehqa.settings; warmed (see
    ehqa.api.warm) before it answers its first request."""
    settings = load()
    logs.configure(settings.log_format)
    services = Services(
        settings.database_url,
        policy_dir=settings.policy_dir,
        default_policy=settings.default_policy,
        clock=london_today if settings.today is None else fixed(settings.today),
        cipher_keys=settings.cipher() or "",
    )
    app = create_app(services, verifier_of(settings), background=settings.background,
                     sweep_interval=settings.sweep_interval, pages=WebConfig.of(settings),
                     digest=(settings.digest_file, settings.digest_webhook))  # fmt: skip
    app.state.auditors_file = settings.auditors_file  # (the audit dashboard's programme)
    if settings.staff_file:
        staff = tomllib.loads(settings.staff_file.read_text()).get("managers", {})
        app.state.api.staff = {str(k): str(v) for k, v in staff.items()}
    warm(app, services)  # (before uvicorn listens: the first requests do not pay for it)
    return app
