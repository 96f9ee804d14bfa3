"""The audit dashboard (auditors, the board) and the audit form.

The dashboard: grade distributions of completed audits by scheme, agency and quarter, each a
chart (ehqa.web.charts) with its table; the themes a partnership board asks for; and the audit
programme's progress over a period, who is furthest behind their quota first (quotas per role,
aggregates.programme; the auditors and their roles from EHQA_AUDITORS_FILE, as `ehqa audit
programme --auditors` reads them).

The audit form: each item of the audit's scheme with what the record proposes (St Helens'
timeliness items and closure section, with the facts that prove it) beside the auditor's score
and evidence, and a form to score an item. It goes through the API's own rules for audits
(`ehqa.api.routes.audits`: who may read an audit, who may work on it, and the application call
that records a score).
"""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from aggregates.access import Principal, may_see_authority
from aggregates.errors import DomainError
from aggregates.programme import AuditKind, Auditor, AuditorRole, standings
from aggregates.schemes import (
    BNES_STANDARDS,
    DARLINGTON_DIMENSIONS,
    ITEMS,
    WHAT_MAKES_GOOD_SECTIONS,
)
from ehqa.api.core import Api, check
from ehqa.api.deps import ApiDep
from ehqa.api.routes.audits import change, may_audit, read_audit
from ehqa.api.schemas import ScoreBody
from ehqa.present import audit_json
from ehqa.web import session
from ehqa.web.charts import grade_chart
from ehqa.web.deps import Csrf, PageCaller, render
from projections.reports import GRADES, grade_report, theme_report

router = APIRouter(include_in_schema=False)
PATH = "/web/audits"
Day = Annotated[date | None, Query(alias="from")]


def auditors(path: Path | None) -> list[Auditor]:
    """The auditors and their roles (TOML: `[auditors] "Name" = "role"`, or a table with
    `role` and `workers`); none without a file."""
    if path is None:
        return []
    listed = tomllib.loads(path.read_text()).get("auditors", {})
    return [Auditor(str(name), AuditorRole(str(entry))) if not isinstance(entry, dict)
            else Auditor(str(name), AuditorRole(str(entry.get("role"))), int(entry.get("workers", 0)))
            for name, entry in listed.items()]  # fmt: skip


def progress(audits: list[dict[str, Any]], people: list[Auditor], first: date,
             last: date) -> list[dict[str, Any]]:  # fmt: skip
    done: dict[tuple[str, AuditKind], int] = {}
    for audit in audits:
        if audit["completed_on"] and first.isoformat() <= audit["completed_on"] <= last.isoformat():
            key = (audit["auditor"], AuditKind(audit["kind"]))
            done[key] = done.get(key, 0) + 1
    months = max(1, round(((last - first).days + 1) / 30.44))
    return [{"auditor": x.auditor, "role": x.role.value, "kind": x.kind.value,
             "expected": x.expected, "completed": x.completed, "behind": x.behind}
            for x in standings(people, done, months)]  # fmt: skip


@router.get(PATH, response_class=HTMLResponse)
def dashboard(request: Request, who: PageCaller, api: ApiDep, first: Day = None,
              last: Annotated[date | None, Query(alias="to")] = None) -> Response:  # fmt: skip
    """The dashboard; the programme's period is `from`..`to` (default: the last 90 days)."""
    s = api.services
    check(may_see_authority(who))
    api.current()
    audits = s.read.audits()
    api.logged(who, "audit dashboard")
    today = s.app.clock()
    last = last or today
    first = first or last - timedelta(days=89)
    errors = [] if first <= last else [("from", f"From: the period's first day ({first}) is after"
                                        f" its last ({last})")]  # fmt: skip
    charts = []
    for by in ("scheme", "agency", "quarter"):
        rows = grade_report(audits, by)
        charts.append({"by": by, "rows": rows, "svg": grade_chart(rows, by, GRADES, f"chart-{by}")})
    people = auditors(getattr(request.app.state, "auditors_file", None))
    return render(request, "audits.html", status_code=400 if errors else 200, errors=errors,
                  charts=charts, grades=GRADES, themes=theme_report(audits), first=first,
                  last=last, programme=progress(audits, people, first, last) if not errors else [],
                  auditors_listed=bool(people), audits=audits)  # fmt: skip


def _items(scheme: str) -> list[tuple[str, str]]:
    """What an auditor scores under a scheme: (item, what it is about)."""
    if scheme == "st_helens":
        return [(code, item.text) for code, item in ITEMS.items()] + [("closure", "Closure")]
    if scheme == "what_makes_good":
        return [(name, name.replace("_", " ")) for name in WHAT_MAKES_GOOD_SECTIONS]
    if scheme == "darlington":
        return [(name, name.replace("_", " ")) for name in DARLINGTON_DIMENSIONS]
    return [(code, area) for code, area in BNES_STANDARDS.items()]


def _audit_view(api: Api, who: Principal, reference: str) -> dict[str, Any]:
    s = api.services
    api.current()
    audit = read_audit(api, who, reference, "form")
    found = s.app.proposals(audit.episode) if audit.scheme.value == "st_helens" else {}
    proposals = {k: {"score": p.score, "grade": p.grade and p.grade.label, "facts": list(p.facts)}
                 for k, p in found.items()}  # fmt: skip
    return {"audit": audit_json(audit), "items": _items(audit.scheme.value),
            "proposals": proposals, "today": s.app.clock()}  # fmt: skip


@router.get(PATH + "/{reference}", response_class=HTMLResponse)
def audit_form(request: Request, reference: str, who: PageCaller, api: ApiDep) -> Response:
    view = _audit_view(api, who, reference)
    return render(request, "audit.html", **view, errors=[], sent={})


@router.post(PATH + "/{reference}/scores", response_class=HTMLResponse)
async def score(request: Request, reference: str, who: PageCaller, api: ApiDep,
                _: Csrf) -> Response:  # fmt: skip
    """Score an item with its evidence, as `POST /audits/{reference}/scores` does."""
    form = (await request.form()).items()
    sent = {k: v for k, v in form if isinstance(v, str) and k != "csrf_token"}
    status, errors = 422, []
    try:
        value: Any = sent.get("value", "")
        body = ScoreBody.model_validate({**sent, "value": int(value) if value.isdigit() else value})
        may_audit(who)
        with api.lock:
            s = api.services
            proposed = s.app.proposed_value(s.app.get_audit(reference), body.item)
        change(api, who, reference, lambda a, t: a.score(
            body.item, body.value, body.evidence, body.on, t, proposed=proposed,
            override_reason=body.override_reason, action=body.action), f"score {body.item}")  # fmt: skip
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "item"
        errors = [(f"score-{name}", f"{name.replace('_', ' ').capitalize()}: {first['msg']}")]
    except DomainError as error:
        status, errors = 409, [("score-item", str(error))]
    if not errors:
        session.notice(request, f"Scored: {body.item}.")
        return RedirectResponse(f"{PATH}/{reference}", status_code=303)
    view = _audit_view(api, who, reference)
    return render(request, "audit.html", status_code=status, **view, errors=errors, sent=sent)
