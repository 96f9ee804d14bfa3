"""Case-file audits: assign, score with evidence, complete, SMART actions, concerns, flags, the
discussion with the worker and their manager, and the grade reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter

from aggregates.access import Principal, Role, may_see_authority
from aggregates.audit import Audit
from aggregates.schemes import Grade
from ehqa.api.core import Api, check
from ehqa.api.deps import ApiDep, Caller
from ehqa.api.errors import Refused, responses
from ehqa.api.schemas import (
    ActionBody,
    AssignBody,
    AuditOut,
    CompleteBody,
    ConcernBody,
    DiscussionBody,
    FlagBody,
    OnBody,
    ScoreBody,
)
from ehqa.present import audit_json
from projections.reports import grade_report, theme_report

router = APIRouter(tags=["audits"])
AUDITING = {Role.AUDITOR, Role.COORDINATOR, Role.ADMIN}
CHANGING = responses(400, 401, 403, 404, 409, 413, 422)
READING = responses(400, 401, 403, 404)


def may_audit(who: Principal) -> None:
    if who.role not in AUDITING:
        raise Refused(403, "Forbidden", f"a {who.role.value} does not audit")


def may_work_on(who: Principal, audit: Audit) -> None:
    """An auditor works on the audits assigned to their subject (never matched by name)."""
    may_audit(who)
    if who.role is Role.AUDITOR and audit.auditor_subject != who.subject:
        raise Refused(
            403, "Forbidden", f"an auditor works on their own audits, not {audit.auditor}'s"
        )


def change(api: Api, who: Principal, reference: str, command: Callable[[Any, date], Any],
           what: str) -> Any:  # fmt: skip
    s = api.services
    with api.lock:
        may_work_on(who, s.app.get_audit(reference))
        audit = s.app.change_audit(reference, command, by=who.subject)
        api.access.record(who, f"audit {what} {reference}", audit.episode)
        s.catch_up()
        return audit_json(audit)


def read_audit(api: Api, who: Principal, reference: str, what: str) -> Audit:
    check(may_see_authority(who))
    audit = api.services.app.get_audit(reference)
    api.logged(who, f"audit {what} {reference}", audit.episode)
    return audit


@router.post("/audits", status_code=201, response_model=AuditOut, operation_id="assign_audit",
             responses=CHANGING)  # fmt: skip
def assign(body: AssignBody, who: Caller, api: ApiDep) -> Any:
    """Assign an audit (refused for an auditor involved in the episode or managing its lead)."""
    s = api.services
    may_audit(who)
    mine = body.auditor is None and body.auditor_subject in (None, who.subject)
    if who.role is Role.AUDITOR and not mine:
        raise Refused(403, "Forbidden", "an auditor assigns audits to themselves")
    auditor = body.auditor or who.name
    subject = who.subject if mine else body.auditor_subject
    with api.lock:
        audit = s.assign_audit(body.reference, episode=body.episode, scheme=body.scheme.value,
                               auditor=auditor, reason=body.reason, on=body.on, managers=api.staff,
                               kind=body.kind, auditor_subject=subject, by=who.subject)  # fmt: skip
        api.access.record(who, f"audit assign {body.reference}", body.episode)
        s.catch_up()
        return audit_json(audit)


@router.get("/audits/{reference}", response_model=AuditOut, operation_id="get_audit",
            responses=READING)  # fmt: skip
def get_audit(reference: str, who: Caller, api: ApiDep) -> Any:
    """An audit: scores with evidence, grade, actions, discussion and concerns."""
    return audit_json(read_audit(api, who, reference, "read"))


@router.get("/audits/{reference}/proposals", operation_id="get_audit_proposals",
            responses=READING)  # fmt: skip
def proposals(reference: str, who: Caller, api: ApiDep) -> dict[str, Any]:
    """What the record proves for A1, R6, R8 and the closure section, with the facts."""
    s = api.services
    found = s.app.proposals(read_audit(api, who, reference, "proposals").episode)
    return {k: {"score": p.score, "grade": p.grade and p.grade.label, "facts": list(p.facts)}
            for k, p in found.items()}  # fmt: skip


@router.post("/audits/{reference}/scores", response_model=AuditOut, operation_id="score_audit",
             responses=CHANGING)  # fmt: skip
def score(reference: str, body: ScoreBody, who: Caller, api: ApiDep) -> Any:
    """Score an item, section, dimension or standard with its evidence (overriding a
    proposal from the record needs a reason)."""
    s = api.services
    may_audit(who)  # before the audit is looked up: no answer tells a non-auditor it exists
    with api.lock:
        proposed = s.app.proposed_value(s.app.get_audit(reference), body.item)
    return change(api, who, reference, lambda a, t: a.score(
        body.item, body.value, body.evidence, body.on, t, proposed=proposed,
        override_reason=body.override_reason, action=body.action), f"score {body.item}")  # fmt: skip


@router.post("/audits/{reference}/complete", response_model=AuditOut,
             operation_id="complete_audit", responses=CHANGING)  # fmt: skip
def complete(reference: str, body: CompleteBody, who: Caller, api: ApiDep) -> Any:
    """Complete with the scheme's grade (or, where it allows, the auditor's, with a reason)."""
    grade = Grade.parse(body.grade) if body.grade else None
    return change(
        api, who, reference, lambda a, t: a.complete(body.on, t, grade, body.reason), "complete"
    )


@router.post("/audits/{reference}/actions", response_model=AuditOut,
             operation_id="issue_audit_action", responses=CHANGING)  # fmt: skip
def issue_action(reference: str, body: ActionBody, who: Caller, api: ApiDep) -> Any:
    """Issue a SMART action; it runs on the audit_actions clock."""
    s = api.services
    may_audit(who)
    with api.lock:
        due = body.due_on or s.app.action_due(s.app.get_audit(reference), body.on)
    return change(
        api,
        who,
        reference,
        lambda a, t: a.issue_action(body.number, body.who, body.what, due, body.on, t),
        f"action {body.number}",
    )


@router.post("/audits/{reference}/concerns", response_model=AuditOut,
             operation_id="raise_audit_concern", responses=CHANGING)  # fmt: skip
def concern(reference: str, body: ConcernBody, who: Caller, api: ApiDep) -> Any:
    """Raise a safeguarding concern found while auditing: delivered as an alert at once."""
    return change(
        api,
        who,
        reference,
        lambda a, t: a.raise_safeguarding_concern(body.note, body.on, t),
        "concern",
    )


@router.post("/audits/{reference}/flags", response_model=AuditOut, operation_id="flag_audit",
             responses=CHANGING)  # fmt: skip
def flag(reference: str, body: FlagBody, who: Caller, api: ApiDep) -> Any:
    """St Helens' overrides: childs_voice_absent, safeguarding_not_considered."""
    return change(
        api, who, reference, lambda a, t: a.flag(body.name, body.value, body.on, t), "flag"
    )


@router.post("/audits/{reference}/actions/{number}/complete", response_model=AuditOut,
             operation_id="complete_audit_action", responses=CHANGING)  # fmt: skip
def complete_action(reference: str, number: str, body: OnBody, who: Caller, api: ApiDep) -> Any:
    """Record an audit action completed (its clock stops, its alerts clear)."""
    return change(
        api,
        who,
        reference,
        lambda a, t: a.complete_action(number, body.on, t),
        f"action {number} completed",
    )


@router.post("/audits/{reference}/discussions", response_model=AuditOut,
             operation_id="record_audit_discussion", responses=CHANGING)  # fmt: skip
def discuss(reference: str, body: DiscussionBody, who: Caller, api: ApiDep) -> Any:
    """The discussion of the audit with the worker and their manager."""
    return change(
        api,
        who,
        reference,
        lambda a, t: a.record_discussion(body.worker, body.manager, body.notes, body.on, t),
        "discussion",
    )


@router.get("/audit-reports", operation_id="get_audit_report",
            responses=responses(400, 401, 403, 422))  # fmt: skip
def report(
    who: Caller,
    api: ApiDep,
    by: Literal["scheme", "agency", "quarter", "auditor", "section", "themes"] = "scheme",
) -> list[dict[str, Any]]:
    """Grades of completed audits by scheme, agency, quarter, auditor or section; or the board's themes."""
    s = api.services
    check(may_see_authority(who))
    api.current()
    audits = s.read.audits()
    api.logged(who, f"audit report by {by}")
    return theme_report(audits) if by == "themes" else grade_report(audits, by)
