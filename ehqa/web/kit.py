"""What the pages of the drift board, the episode and the audits take from the web foundation:
the caller of a page, rendering a template, and a form's fields once its CSRF token checks out.

(Provisional until the foundation is merged: the caller from an API token in the header.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from aggregates.access import Principal
from ehqa.api.core import Api

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def api_of(request: Request) -> Api:
    api: Api = request.app.state.api
    return api


def page_caller(request: Request) -> Principal:
    return api_of(request).who(request.headers.get("authorization"))


Page = Annotated[Principal, Depends(page_caller)]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


async def form_of(request: Request) -> dict[str, list[str]]:
    form = await request.form()
    found: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            found.setdefault(key, []).append(value)
    return found
