"""The pages every role has: the start page (its links by role) and `/` sending a browser
there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ehqa.web.deps import PREFIX, PageCaller, render
from ehqa.web.nav import nav_for

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> Response:
    return RedirectResponse(f"{PREFIX}/", status_code=307)


@router.get(f"{PREFIX}/", name="home")
def home(request: Request, who: PageCaller) -> Response:
    """A person with one page goes straight to it; otherwise the list of their pages."""
    links = nav_for(who)
    if len(links) == 1:
        return RedirectResponse(links[0].path, status_code=303)
    return render(request, "home.html", links=links)
