"""How an audit is shown to people and programs (the CLI's --json and the API share it)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aggregates.audit import Audit
from aggregates.errors import DomainError


def audit_json(audit: Audit) -> dict[str, Any]:
    try:
        proposed, _, why = audit.proposed_grade()
    except DomainError as not_yet:  # not every item is scored yet
        proposed, why = None, str(not_yet)
    return {
        "audit": audit.reference, "episode": audit.episode, "scheme": audit.scheme.value,
        "auditor": audit.auditor, "reason": audit.reason, "assigned_on": audit.assigned_on.isoformat(),
        "scores": {k: {**v, "on": v["on"].isoformat()} for k, v in audit.scores.items()},
        "flags": audit.flags, "grade": audit.grade and audit.grade.label,
        "proposed_grade": proposed and proposed.label, "why": why,
        "completed_on": audit.completed_on and audit.completed_on.isoformat(),
        "actions": {k: {kk: vv.isoformat() if isinstance(vv, date) else vv for kk, vv in v.items()}
                    for k, v in audit.actions.items()},
        "discussions": [{**d, "on": d["on"].isoformat()} for d in audit.discussions],
        "concerns": [{**c, "on": c["on"].isoformat()} for c in audit.concerns],
    }  # fmt: skip
