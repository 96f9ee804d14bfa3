"""Swagger UI (/docs) and ReDoc (/redoc), served from the package with no CDN: their scripts
and styles are the static files the `fastapi-offline` package ships, mounted under
/docs-static. A council's network may reach nothing outside; the pages must work there.

The pages are sent with a Content-Security-Policy that lets them load nothing but from this
server (ReDoc's bundle would otherwise fetch its logo from its makers' CDN; it hides the image
when that fails).
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

STATIC = "/docs-static"
ASSETS = (
    files("fastapi_offline") / "static"
)  # swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js
POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline'",  # (Swagger UI's set-up is an inline script)
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip


def install(app: FastAPI) -> None:
    """Mount the assets and add /docs and /redoc (outside the OpenAPI document)."""
    app.mount(STATIC, StaticFiles(directory=str(ASSETS)), name="docs-static")
    openapi_url = app.openapi_url or "/openapi.json"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None, "persistAuthorization": False},
        )
        page.headers["Content-Security-Policy"] = POLICY
        return page

    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{STATIC}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = POLICY
        return page

    # (plain routes, not API routes: outside the document and the query-parameter check)
    app.add_route("/docs", swagger_ui, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/redoc", redoc, methods=["GET", "HEAD"], include_in_schema=False)
