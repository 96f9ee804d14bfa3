"""The drift board page (co-ordinators, team managers): overdue, escalated and due-soon clocks
with counts by rung, filters whose values come from the data, sorting, pages with a total, an
as-at date, and the rows shown as CSV.

Who may see it is the API's rule (`Api.authority_read`: refused to agency roles, recorded in the
access log). A filter value the data does not have is refused with an error summary naming the
field (400), never answered as "nothing overdue".
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aggregates.access import Principal
from aggregates.calendar import FIRST_DAY, LAST_DAY
from ehqa.api.core import Api
from ehqa.api.deps import ApiDep
from ehqa.filters import UnknownValueError
from ehqa.web import board as drift
from ehqa.web.deps import PageCaller, render

router = APIRouter(include_in_schema=False)
PATH = "/web/drift"
LABELS = {"agency": "Agency", "lead": "Lead professional", "clock": "Clock", "rung": "Rung",
          "policy": "Policy"}  # fmt: skip
Filter = Annotated[str | None, Query(max_length=200)]
Sort = Literal["worst", "due", "episode", "lead", "agency", "clock"]


class Asked:
    """The board's query as the page's form gives it (an empty select is no filter)."""

    def __init__(self, as_at: date | None, filters: dict[str, str | None], sort: str, page: int):
        self.as_at, self.sort, self.page = as_at, sort, page
        self.filters = {k: (v or None) for k, v in filters.items()}

    def query(self, **changes: Any) -> str:
        given = {"as_at": self.as_at and self.as_at.isoformat(), **self.filters,
                 "sort": None if self.sort == "worst" else self.sort, "page": None, **changes}  # fmt: skip
        return urlencode({k: v for k, v in given.items() if v not in (None, "", 1)})


def _asked(as_at: date | None, agency: str | None, lead: str | None, clock: str | None,
           rung: str | None, policy: str | None, sort: str, page: int) -> Asked:  # fmt: skip
    filters = {"agency": agency, "lead": lead, "clock": clock, "rung": rung, "policy": policy}
    return Asked(as_at, filters, sort, page)


def _shown(api: Api, who: Principal, asked: Asked, what: str) -> tuple[date, drift.Board]:
    s = api.services
    with api.authority_read(who, what):
        when = asked.as_at or s.app.clock()
        return when, drift.board(s, when, asked.filters, asked.sort, asked.page)


def _choices(api: Api) -> dict[str, list[str]]:
    return {name: drift.KNOWN.values(api.services, name) for name in drift.FILTERS}


@router.get(PATH, response_class=HTMLResponse)
def drift_page(request: Request, who: PageCaller, api: ApiDep,
               as_at: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
               agency: Filter = None, lead: Filter = None, clock: Filter = None,
               rung: Filter = None, policy: Filter = None, sort: Sort = "worst",
               page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:  # fmt: skip
    """The board's page (`page` of 50 rows), with the counts by rung of every page."""
    asked = _asked(as_at, agency, lead, clock, rung, policy, sort, page)
    errors: list[tuple[str, str]] = []
    try:
        when, shown = _shown(api, who, asked, "drift board page")
    except UnknownValueError as error:
        field = error.parameter
        errors = [(f"filter-{field}", error.detail(LABELS[field]))]
    except drift.PageError as error:
        errors = [("filter-as_at", f"Page: {error}")]
    api.current()
    choices = _choices(api)
    if errors:
        return render(request, "drift.html", status_code=400, errors=errors, asked=asked,
                      choices=choices, labels=LABELS, board=None, as_at=as_at)  # fmt: skip
    return render(request, "drift.html", errors=[], asked=asked, choices=choices,
                  labels=LABELS, board=shown, as_at=when, cells=drift.cells, path=PATH,
                  sorts=list(drift.SORTS))  # fmt: skip


@router.get(PATH + ".csv")
def drift_csv(request: Request, who: PageCaller, api: ApiDep,
              as_at: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
              agency: Filter = None, lead: Filter = None, clock: Filter = None,
              rung: Filter = None, policy: Filter = None, sort: Sort = "worst",
              page: Annotated[int, Query(ge=1, le=100_000)] = 1) -> Response:  # fmt: skip
    """The rows of the page shown, as CSV (a refused filter: the page with its error summary)."""
    asked = _asked(as_at, agency, lead, clock, rung, policy, sort, page)
    try:
        when, shown = _shown(api, who, asked, "drift board csv")
    except (UnknownValueError, drift.PageError):
        return drift_page(request, who, api, as_at, agency, lead, clock, rung, policy, sort, page)
    name = f"drift-{when}-page-{shown.page}.csv"
    return Response(drift.as_csv(shown.rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
