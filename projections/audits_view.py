"""The audits view: each audit and its actions, whose open actions run on the audit_actions
clock of the drift board (and climb the alert ladder) like any other clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from aggregates.alerts import Rung, ladder
from aggregates.audit import Audit
from aggregates.calendar import WorkingCalendar
from aggregates.policy import ClockName, Policy
from projections.db import Cursor
from projections.protocol import SAFEGUARDING, Event, Unprepared, topics_of
from projections.protocol import iso as _iso


class AuditsProjection(Unprepared):
    """Each audit and its actions; open actions run on the audit_actions clock of the drift
    board (and climb the alert ladder) like any other clock."""

    name = "audits"
    topics = topics_of(Audit)
    tables = ["ehqa_audits", "ehqa_audit_actions"]
    clears = [
        "DELETE FROM ehqa_audits",
        "DELETE FROM ehqa_audit_actions",
        f"DELETE FROM ehqa_clocks WHERE clock = '{ClockName.AUDIT_ACTIONS.value}'",
        f"DELETE FROM ehqa_alerts WHERE clock IN ('{ClockName.AUDIT_ACTIONS.value}', '{SAFEGUARDING}')",
    ]

    def __init__(self, load: Callable[[UUID, int], Audit], policy: Callable[[str], Policy],
                 calendar: WorkingCalendar) -> None:  # fmt: skip
        self._load, self._policy, self._calendar = load, policy, calendar

    def process(self, cur: Cursor, batch: list[tuple[int, Event]]) -> None:
        by_audit: dict[UUID, list[tuple[int, Event]]] = {}
        for item in batch:
            by_audit.setdefault(item[1].originator_id, []).append(item)
        for audit_id, items in by_audit.items():
            first = items[0][1].originator_version
            aggregate: Any = None if first == 1 else self._load(audit_id, first - 1)
            for _, event in items:
                aggregate = cast(Any, event).mutate(aggregate)
            self._write(cur, aggregate, items[0][0])

    def _write(self, cur: Cursor, audit: Audit, seq: int) -> None:
        ref, clock = audit.reference, ClockName.AUDIT_ACTIONS.value
        for table, key in (("ehqa_audits", "reference"), ("ehqa_audit_actions", "audit")):
            cur.execute(f"DELETE FROM {table} WHERE {key} = ?", (ref,))
        cur.execute("DELETE FROM ehqa_clocks WHERE reference = ? AND clock = ?", (ref, clock))
        cur.execute(
            "DELETE FROM ehqa_alerts WHERE reference = ? AND clock IN (?, ?)",
            (ref, clock, SAFEGUARDING),
        )
        cur.execute(
            "INSERT INTO ehqa_audits (reference, episode, scheme, auditor, kind, reason, assigned_on, completed_on,"
            " grade, scores, flags, concerns, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ref, audit.episode, audit.scheme.value, audit.auditor, audit.kind.value, audit.reason,
             audit.assigned_on.isoformat(),
             _iso(audit.completed_on), audit.grade and audit.grade.label,
             json.dumps({k: v["value"] for k, v in audit.scores.items()}), json.dumps(audit.flags),
             len(audit.concerns), seq),
        )  # fmt: skip
        escalation = self._policy(audit.policy).escalation
        raised: dict[str, set[Rung]] = {}
        for alert in audit.alerts.values():
            raised.setdefault(alert["number"], set()).add(Rung(alert["rung"]))
        for number, action in audit.actions.items():
            cur.execute(
                "INSERT INTO ehqa_audit_actions (audit, number, who, what, issued_on, due_on, completed_on)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ref, number, action["who"], action["what"], action["issued_on"].isoformat(),
                 action["due_on"].isoformat(), _iso(action["completed_on"])),
            )  # fmt: skip
            following = None
            if action["completed_on"] is None:
                following = ladder(action["due_on"], escalation, self._calendar).next_after(
                    raised.get(number, set())
                )
            cur.execute(
                "INSERT INTO ehqa_clocks (reference, clock, occurrence, started_on, due_on, stopped_on, closed_on,"
                " exceptions, lead_name, lead_agency, policy, seq, next_alert_on, next_rung)"
                " VALUES (?, ?, ?, ?, ?, ?, NULL, '[]', ?, NULL, ?, ?, ?, ?)",
                (ref, clock, int(number), action["issued_on"].isoformat(), action["due_on"].isoformat(),
                 _iso(action["completed_on"]), action["who"], audit.policy, int(number),
                 following and following[1].isoformat(), following and following[0].value),
            )  # fmt: skip
        cur.executemany(
            "INSERT INTO ehqa_alerts (alert_id, reference, clock, occurrence, rung, fell_due_on, raised_on,"
            " recipients, acknowledged_by, acknowledged_on, cleared_on, lead_name, lead_agency, lead_subject)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, NULL, NULL)",
            [
                (ident, ref, clock, int(a["number"]), a["rung"], a["fell_due_on"].isoformat(),
                 a["raised_on"].isoformat(), json.dumps(a["recipients"]),
                 _iso(audit.actions[a["number"]]["completed_on"]), audit.actions[a["number"]]["who"])
                for ident, a in audit.alerts.items()
            ],
        )  # fmt: skip
        cur.executemany(  # a safeguarding concern is an escalated alert from the moment it is raised
            "INSERT INTO ehqa_alerts (alert_id, reference, clock, occurrence, rung, fell_due_on, raised_on,"
            " recipients, acknowledged_by, acknowledged_on, cleared_on, lead_name, lead_agency, lead_subject)"
            " VALUES (?, ?, ?, ?, 'escalated', ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL)",
            [
                (c["alert_id"], ref, SAFEGUARDING, n, c["on"].isoformat(), c["on"].isoformat(),
                 json.dumps([escalation.coordinator, escalation.team_manager]))
                for n, c in enumerate(audit.concerns, start=1)
            ],
        )  # fmt: skip
