"""The pages added to the API's app (imported by `ehqa.api.create_app` when it builds one)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ehqa.web import audit_pages, caseload, drift_page, episode_page, errors, pages, signin
from ehqa.web.config import WebConfig
from ehqa.web.deps import HERE, PREFIX
from ehqa.web.session import Sessions

__all__ = ["ROUTERS", "install"]

ROUTERS = [pages.router, signin.router, caseload.router, drift_page.router, episode_page.router,
           audit_pages.router]  # fmt: skip


def install(app: FastAPI, config: WebConfig | None = None) -> None:
    """Add the pages to the API's app: their routes, stylesheet, sessions and refusal pages
    (after `ehqa.api.errors.install`, whose handlers the pages' wrap)."""
    config = config or WebConfig()
    app.state.web = config
    app.state.oidc = signin.oidc_app(config.oidc) if config.oidc else None
    for router in ROUTERS:
        app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="web-static")
    errors.install(app)
    app.add_middleware(Sessions, secret=config.session_secret)
