"""Alerts: the open alerts a caller may see, and acknowledging one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from aggregates.access import alerts_seen_by, may_see_authority
from aggregates.alerts import ALERT_ROLES, episode_of_alert
from ehqa import reads
from ehqa.api.deps import ApiDep, AsAt, Caller, KnownAt, when
from ehqa.api.errors import Refused, responses
from ehqa.api.schemas import AlertOut

router = APIRouter(tags=["alerts"])

AlertsFor = Annotated[
    str | None,
    Query(alias="for", max_length=300, description="A person's subject (e.g. token:..., or an"
          " OIDC issuer#sub), or a role: " + ", ".join(ALERT_ROLES) + "."),
]  # fmt: skip


@router.get("/alerts", response_model=list[AlertOut], operation_id="list_alerts",
            responses=responses(400, 401, 403, 422))  # fmt: skip
def alerts(who: Caller, api: ApiDep, as_at: AsAt = None, known_at: KnownAt = None,
           to: AlertsFor = None, all: bool = False) -> Any:  # fmt: skip
    """Open alerts. A lead professional or practitioner sees only the alerts addressed to
    them (by their sign-in subject) on episodes they may read; authority-wide roles see all,
    or with `for`, those addressed to one subject or one role."""
    s = api.services
    api.current()
    asked = when(as_at, known_at, s.app.clock())
    if alerts_seen_by(who) is None:
        api.known("for", **{"for": to})
        role = to if to in ALERT_ROLES else None
        with reads.reading(s, asked) as read:
            found = read.alerts(asked.day, None if role else to, role, include_cleared=all)
    else:
        if to not in (None, who.subject):
            raise Refused(403, "Forbidden", f"a {who.role.value} sees their own alerts")
        with reads.reading(s, asked) as read:
            mine = read.alerts(asked.day, alerts_seen_by(who), include_cleared=all)
        found = [a for a in mine if api.may_read_episode(who, a["episode"])]
    api.logged(who, "alerts")
    return found


@router.post("/alerts/{ident:path}/ack", response_model=AlertOut, operation_id="acknowledge_alert",
             responses=responses(400, 401, 403, 404, 409))  # fmt: skip
def acknowledge(ident: str, who: Caller, api: ApiDep) -> Any:
    """Acknowledge an alert (it stays open until the awaited step happens)."""
    s = api.services
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
