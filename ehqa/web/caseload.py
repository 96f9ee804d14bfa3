"""My caseload: the signed-in person's open episodes, worst clock first, and the alerts
addressed to them, each with an acknowledge button. Read and acknowledged under the API's own
rules: the episodes and alerts they may read, and acknowledging through the API's route."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from aggregates.clocks import ClockEntry, Status
from ehqa.api.deps import ApiDep
from ehqa.api.routes.alerts import acknowledge
from ehqa.web import session
from ehqa.web.deps import PREFIX, Csrf, PageCaller, render
from projections.mine import open_episodes_led_by

router = APIRouter(prefix=PREFIX, include_in_schema=False)
RUNNING = (Status.OVERDUE, Status.PENDING)


def _worst(clocks: list[ClockEntry]) -> ClockEntry | None:
    """The running clock most overdue, else the one falling due soonest."""
    running = [c for c in clocks if c.status in RUNNING]
    return min(running, key=lambda c: (-c.working_days_late, c.due_on), default=None)


def _order(row: dict[str, Any]) -> tuple[int, int, date]:
    worst: ClockEntry | None = row["worst"]
    if worst is None:
        return (1, 0, date.max)
    return (0, -worst.working_days_late, worst.due_on)


@router.get("/caseload", name="caseload")
def caseload(request: Request, who: PageCaller, api: ApiDep) -> Response:
    s = api.services
    api.current()
    today = s.app.clock()
    mine = [e for e in open_episodes_led_by(s.views, who.subject)
            if api.may_read_episode(who, e["episode"])]  # fmt: skip
    rows = [
        {**e, "worst": _worst([b.entry for b in s.read.deadlines(e["episode"], today)])}
        for e in mine
    ]
    alerts = [a for a in s.read.alerts(today, who.subject)
              if api.may_read_episode(who, a["episode"])]  # fmt: skip
    api.logged(who, "my caseload")  # (a read: group-committed, as the API's reads are)
    api.logged(who, "alerts")
    rows.sort(key=_order)
    return render(request, "caseload.html", episodes=rows, alerts=alerts, today=today)


@router.post("/alerts/{ident:path}/ack", name="acknowledge_alert")
def acknowledge_alert(request: Request, ident: str, who: PageCaller, api: ApiDep,
                      _: Csrf) -> Response:  # fmt: skip
    """The API's acknowledge (its checks, its access-log entry); a refusal is its page."""
    acknowledged = acknowledge(ident, who, api)
    session.notice(request, f"Alert acknowledged: {acknowledged['clock'].replace('_', ' ')}"
                   f" on {acknowledged['episode']}.")  # fmt: skip
    return RedirectResponse(f"{PREFIX}/caseload", status_code=303)
