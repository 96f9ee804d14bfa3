"""The episode page: where it stands, who is involved, the journey picture with the text timeline
beneath it, and a form for each next step the lifecycle allows now.

Reading and recording go through the API's own checks (`Api.readable`, `Api.writable`): a caller
who may not read the episode gets the same 404 as for one that does not exist, shown as the
refusal page. A step is one application call, as `POST /episodes/{reference}/{step}` makes it; a
refused step (a form field the model refuses, or a rule of the domain) shows the reason in the
error summary above the form and records nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aggregates.access import Principal, alerts_seen_by, may_record
from aggregates.calendar import FIRST_DAY, LAST_DAY
from aggregates.errors import DomainError
from ehqa.api.core import Api
from ehqa.api.deps import ApiDep
from ehqa.api.errors import Refused
from ehqa.commands import MODELS
from ehqa.web import journey, session, steps
from ehqa.web.deps import Csrf, PageCaller, render

router = APIRouter(include_in_schema=False)
AsAt = Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)]
PREFIX = "/web/episodes"


def _view(api: Api, who: Principal, reference: str, as_at: date | None) -> dict[str, Any]:
    """What the page shows (the read recorded in the access log; 404 if the caller may not)."""
    s = api.services
    api.current()
    episode = api.readable(who, reference, "episode page")
    today = s.app.clock()
    when = as_at or today
    clocks = s.read.deadlines(reference, when)
    events = s.read.timeline(reference, milestones=True, as_at=when)
    alerts = s.read.alerts(when, alerts_seen_by(who), include_cleared=True, episode=reference)
    recorded = [e for e in events if e["event"] != "ClockDue" and e["on"] <= when.isoformat()]
    closed = date.fromisoformat(episode["closed_on"]) if episode["closed_on"] else None
    picture = journey.picture(reference, [r.entry for r in clocks], recorded, alerts, today=today,
                              as_at=when, closed_on=closed if closed and closed <= when else None)  # fmt: skip
    lead = episode["lead"] or {}
    writable = may_record(who, lead.get("agency"), episode["consent_agencies"]).allowed
    allowed = steps.allowed(episode["state"]) if writable and as_at in (None, today) else []
    return {
        "episode": episode, "today": today, "as_at": when, "clocks": clocks, "events": events,
        "alerts": alerts, "picture": picture, "steps": [steps.step(cmd) for cmd in allowed],
        "drawn": journey.drawn([r.entry for r in clocks], closed),
        "page_url": f"{PREFIX}/{quote(reference, safe='')}",
    }  # fmt: skip


@router.get(PREFIX + "/{reference}", response_class=HTMLResponse)
def episode_page(request: Request, reference: str, who: PageCaller, api: ApiDep,
                 as_at: AsAt = None) -> Response:  # fmt: skip
    view = _view(api, who, reference, as_at)
    return render(request, "episode.html", **view, errors=[], sent={}, failed=None)


@router.get(PREFIX + "/{reference}/journey.svg")
def journey_svg(request: Request, reference: str, who: PageCaller, api: ApiDep,
                as_at: AsAt = None) -> Response:  # fmt: skip
    """The journey picture alone, as an SVG file to download."""
    view = _view(api, who, reference, as_at)
    name = f"journey-{reference.replace('/', '-')}-{view['as_at']}.svg"
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + view["picture"],
                    media_type="image/svg+xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.post(PREFIX + "/{reference}/steps/{cmd}", response_class=HTMLResponse)
async def record_step(request: Request, reference: str, cmd: str, who: PageCaller, api: ApiDep,
                      _: Csrf) -> Response:  # fmt: skip
    """Record one step from its form: refused with the reason (nothing recorded), or recorded
    and back to the page (303, so a reload does not send the form again)."""
    sent = await form_of(request)
    if cmd not in MODELS or cmd == "open":
        raise Refused(404, "Not Found", f"no step {cmd}")
    form, errors, status = steps.step(cmd), [], 422
    try:
        command = steps.parse(form, reference, sent)
        with api.lock:
            api.writable(who, reference)
            command.apply(api.services.app, by=who.subject)
            api.access.record(who, f"record {cmd}", reference)
        api.episode_caught_up()  # (the page it returns to reads the step, as the API's)
    except steps.FormError as error:
        errors = [(f"{cmd}-{_field_of(form, error.label)}", f"{error}. Nothing was recorded.")]
    except DomainError as error:  # the domain's reason, as the API gives it (409)
        errors, status = [(f"{cmd}-on", f"{error}. Nothing was recorded.")], 409
    if not errors:
        session.notice(request, f"Recorded: {form.title.lower()}.")
        url = f"{PREFIX}/{quote(reference, safe='')}#timeline-heading"
        return RedirectResponse(url, status_code=303)
    view = _view(api, who, reference, None)
    if all(step.cmd != cmd for step in view["steps"]):  # (its form is no longer shown)
        errors = [("steps-heading", text) for _, text in errors]
    return render(request, "episode.html", status_code=status, **view, errors=errors, sent=sent,
                  failed=cmd)  # fmt: skip


async def form_of(request: Request) -> dict[str, list[str]]:
    """The form's fields, each with every value it was sent (checkboxes send several)."""
    found: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str) and key != "csrf_token":
            found.setdefault(key, []).append(value)
    return found


def _field_of(form: steps.Step, label: str) -> str:
    """The id of the input a refusal names (the date, when it names none of the form's)."""
    for f in form.fields:
        if f.label == label:
            return f.name.replace(".", "-")
    return "on"
