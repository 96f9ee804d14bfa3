"""Exports for inspection: Annex A List 2 and ssd_early_help_episodes as CSV (authority-wide
roles), and one episode's chronology as HTML or PDF (whoever may read the episode); each read is
recorded in the access log."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from aggregates.access import alerts_seen_by, may_see_authority
from aggregates.calendar import FIRST_DAY, LAST_DAY
from ehqa.api.deps import ApiDep, AsAt, Caller, KnownAt
from ehqa.api.errors import responses
from ehqa.exports import run

router = APIRouter(tags=["exports"])


def _file(content: str | bytes, media: str, name: str) -> Response:
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def _shown(media: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media: {}}, "description": "The file."},
            **responses(400, 401, 403, 404, 422)}  # fmt: skip


@router.get("/exports/annex-a", response_class=Response, operation_id="export_annex_a",
            responses=_shown("text/csv"))  # fmt: skip
def annex_a(who: Caller, api: ApiDep, inspection_date: Annotated[
        date, Query(ge=FIRST_DAY, le=LAST_DAY, description="The inspection date.")],
        known_at: KnownAt = None, unborn_age: Annotated[Literal["-1", "blank"], Query(
            description="Age shown for a child not yet born.")] = "-1") -> Response:  # fmt: skip
    """Annex A List 2 (early help): assessments started in the six months before the
    inspection date, and every episode still open on it (authority-wide roles)."""
    with api.authority_read(who, "export annex-a"):
        text = run.annex_a_csv(api.services, inspection_date, known_at, unborn_age)
    return _file(text, "text/csv; charset=utf-8", f"annex-a-list-2-{inspection_date}.csv")


@router.get("/exports/ssd-early-help", response_class=Response,
            operation_id="export_ssd_early_help", responses=_shown("text/csv"))  # fmt: skip
def ssd_early_help(who: Caller, api: ApiDep, as_at: AsAt = None,
                   known_at: KnownAt = None) -> Response:  # fmt: skip
    """The Standard Safeguarding Dataset's ssd_early_help_episodes (authority-wide roles)."""
    with api.authority_read(who, "export ssd-early-help"):
        day = as_at or api.services.app.clock()
        text = run.ssd_csv(api.services, day, known_at)
    return _file(text, "text/csv; charset=utf-8", f"ssd_early_help_episodes-{day}.csv")


@router.get("/exports/chronology/{reference}", response_class=Response,
            operation_id="export_chronology", responses=_shown("text/html"))  # fmt: skip
def chronology(reference: str, who: Caller, api: ApiDep, known_at: KnownAt = None,
               format: Literal["html", "pdf"] = "html") -> Response:  # fmt: skip
    """One episode's chronology as known at a moment (default: now), as HTML or PDF."""
    s = api.services
    api.current()
    api.readable(who, reference, "export chronology")
    audits = may_see_authority(who).allowed  # (the API shows audits to these roles only)
    mine = alerts_seen_by(who)
    if format == "pdf":
        pdf = run.chronology_pdf(s, reference, known_at, s.app.clock(), audits, mine)
        return _file(pdf, "application/pdf", f"chronology-{reference}.pdf")
    html = run.chronology_html(s, reference, known_at, s.app.clock(), audits, mine)
    return Response(html, media_type="text/html; charset=utf-8")
