"""Questions answered from the read models, never by replaying aggregates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from aggregates.alerts import ALERT_ROLES, ROLES_BY_RUNG
from aggregates.calendar import WorkingCalendar
from aggregates.clocks import ClockEntry, Span, entry
from aggregates.ids import child_record_id, episode_id
from aggregates.policy import ClockName
from projections.db import ViewDatabase
from projections.labels import milestone_label

CLOCK_COLUMNS = (
    "c.reference, c.clock, c.occurrence, c.started_on, c.due_on, c.stopped_on, c.closed_on,"
    " c.exceptions, c.lead_name, c.lead_agency, c.policy"
)
RUNNING = "c.stopped_on IS NULL AND c.closed_on IS NULL"


@dataclass(frozen=True)
class BoardRow:
    episode: str
    entry: ClockEntry
    lead_name: str | None
    lead_agency: str | None
    policy: str


@dataclass(frozen=True)
class AlertDue:
    episode: str
    clock: ClockName
    occurrence: int
    due_on: date
    lead_name: str | None


def _d(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def episode_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """An episode summary row (as the episodes view stores it) as the API and CLI give it."""
    (ref, child, state, lead_name, lead_agency, lead_subject, policy, origin, pre_birth,
     opened_on, agencies, closed_on, closed_reason, summary, version) = row  # fmt: skip
    lead = {"name": lead_name, "agency": lead_agency}
    if lead_subject:
        lead["subject"] = lead_subject
    return {
        "episode": ref,
        "child": child,
        "state": state,
        "lead": lead if lead_name else None,
        "policy": policy,
        "origin": origin,
        "pre_birth": bool(pre_birth),
        "opened_on": opened_on,
        "consent_agencies": json.loads(agencies),
        "closed_on": closed_on,
        "closed_reason": closed_reason,
        "closure_summary": summary,
        "version": version,
    }


class ReadModels:
    def __init__(self, db: ViewDatabase, calendar: WorkingCalendar) -> None:
        self.db = db
        self.calendar = calendar

    # ---- one episode -----------------------------------------------------------------------

    def episode(self, reference: str) -> dict[str, Any] | None:
        rows = self.db.query(
            "SELECT reference, child, state, lead_name, lead_agency, lead_subject, policy, origin,"
            " pre_birth, opened_on, consent_agencies, closed_on, closed_reason, closure_summary,"
            " version FROM ehqa_episodes WHERE reference = ?",
            (reference,),
        )
        return episode_json(rows[0]) if rows else None

    def open_episode_of(self, child: str) -> str | None:
        rows = self.db.query(
            "SELECT open_episode FROM ehqa_children WHERE record_id = ?",
            (child_record_id(child).hex,),
        )
        return rows[0][0] if rows else None

    def timeline(
        self, reference: str, milestones: bool = False, as_at: date | None = None
    ) -> list[dict[str, Any]]:
        """The episode's events by business date; with `milestones`, each labelled and with
        every clock's due date (and its status as at `as_at`, by default the date of the
        latest event) in its place."""
        rows = self.db.query(
            "SELECT label, body FROM ehqa_timeline WHERE episode_id = ? ORDER BY on_date, version",
            (episode_id(reference).hex,),
        )
        if not milestones:
            return [json.loads(body) for _, body in rows]
        events = [{**json.loads(body), "label": label} for label, body in rows]
        latest = max((date.fromisoformat(e["on"]) for e in events), default=date.min)
        for board in self.deadlines(reference, as_at or latest):
            e = board.entry
            events.append(
                {
                    "on": e.due_on.isoformat(),
                    "event": "ClockDue",
                    "clock": e.clock.value,
                    "occurrence": e.occurrence,
                    "status": e.status.value,
                    "label": milestone_label(e.clock.value, e.status.value, e.working_days_late),
                }
            )
        return sorted(events, key=lambda item: (item["on"], item["event"] == "ClockDue"))

    # ---- clocks ----------------------------------------------------------------------------

    def deadlines(self, reference: str | None, as_at: date) -> list[BoardRow]:
        """Every clock occurrence started by `as_at` (of one episode or all), as at `as_at`."""
        where, params = "c.started_on <= ?", [as_at.isoformat()]
        if reference is not None:
            where += " AND c.reference = ?"
            params.append(reference)
        rows = self.db.query(
            f"SELECT {CLOCK_COLUMNS} FROM ehqa_clocks c JOIN ehqa_episodes e"
            f" ON e.reference = c.reference WHERE {where} ORDER BY e.opened_seq, c.seq",
            params,
        )
        return [self._row(row, as_at) for row in rows]

    def _row(self, row: tuple[Any, ...], as_at: date) -> BoardRow:
        (reference, clock, occurrence, started, due, stopped, closed, exceptions,
         lead_name, lead_agency, policy) = row  # fmt: skip
        span = Span(
            ClockName(clock),
            occurrence,
            date.fromisoformat(started),
            _d(stopped),
            _d(closed),
            [(date.fromisoformat(on), reason) for on, reason in json.loads(exceptions)],
        )
        due_on = date.fromisoformat(due)
        return BoardRow(
            reference,
            entry(span.as_at(as_at), due_on, self.calendar, as_at),
            lead_name,
            lead_agency,
            policy,
        )

    def drift(
        self,
        as_at: date,
        *,
        agency: str | None = None,
        lead: str | None = None,
        policy: str | None = None,
        clock: str | None = None,
        due_within: int | None = None,
        limit: int | None = None,
    ) -> list[BoardRow]:
        """Overdue clocks as at `as_at` (worst first), or with `due_within` the clocks falling
        due in the next N working days (soonest first); `limit` gives the first page."""
        sql, params = self._board_sql(as_at, agency, lead, policy, clock, due_within, limit)
        board = [self._row(row, as_at) for row in self.db.query(sql, params)]
        if due_within is None:
            board.sort(key=lambda r: -r.entry.working_days_late)  # stable: due date, then episode
        return board

    def drift_count(self, as_at: date, **filters: Any) -> int:
        """How many clocks the same board would list (for "showing 50 of N")."""
        sql, params = self._board_sql(as_at, columns="1", **filters)
        return int(self.db.query(f"SELECT COUNT(*) FROM ({sql}) board", params)[0][0])

    def drift_due_dates(
        self, as_at: date, policies: list[str], **filters: Any
    ) -> list[tuple[str, date, int]]:
        """How many clocks the same board would list for each (policy, due date): what a
        clock's alert rung depends on, so the counts by rung need no row of the board. One
        grouped count per policy, each answered from the policy's index alone."""
        found, chosen = [], filters.pop("policy", None)
        for name in [chosen] if chosen else policies:
            sql, params = self._board_sql(as_at, policy=name, columns="c.due_on", ordered=False,
                                          **filters)  # fmt: skip
            rows = self.db.query(f"SELECT due_on, COUNT(*) FROM ({sql}) board GROUP BY due_on",
                                 params)  # fmt: skip
            found += [(name, date.fromisoformat(due), int(n)) for due, n in rows]
        return found

    def _board_sql(
        self,
        as_at: date,
        agency: str | None = None,
        lead: str | None = None,
        policy: str | None = None,
        clock: str | None = None,
        due_within: int | None = None,
        limit: int | None = None,
        columns: str = CLOCK_COLUMNS,
        ordered: bool = True,
    ) -> tuple[str, list[Any]]:
        filters, params = [], []
        for column, value in (("lead_agency", agency), ("lead_name", lead), ("policy", policy),
                              ("clock", clock)):  # fmt: skip
            if value is not None:
                filters.append(f"c.{column} = ?")
                params.append(value)
        extra = "".join(f" AND {f}" for f in filters)
        day = as_at.isoformat()
        if due_within is not None:
            until = self.calendar.add_working_days(as_at, due_within).isoformat()
            due, due_params = "c.due_on >= ? AND c.due_on <= ?", [day, until]
        else:
            due, due_params = "c.due_on < ?", [day]
        # Running as at D: running now, or (for a past D) stopped or closed only after D. Each
        # part is answered from its own index.
        parts = [
            (RUNNING, []),
            ("c.stopped_on > ?", [day]),
            ("c.stopped_on IS NULL AND c.closed_on > ?", [day]),
        ]
        order = (
            ""
            if columns == "1" or not ordered
            else " ORDER BY due_on, reference, clock, occurrence"
        )
        page = "" if limit is None else f"{order} LIMIT {int(limit)}"
        # Each part is ordered and cut from its own index before the parts are merged.
        sql = " UNION ALL ".join(
            f"SELECT * FROM (SELECT {columns} FROM ehqa_clocks c WHERE {running} AND {due}"
            f" AND c.started_on <= ?{extra}{page}) part{n}"
            for n, (running, _) in enumerate(parts)
        )
        sql = f"SELECT * FROM ({sql}) board{order if limit is None else page}"
        return sql, [p for _, part in parts for p in (*part, *due_params, day, *params)]

    # ---- caseloads -------------------------------------------------------------------------

    def caseloads(self, as_at: date) -> list[dict[str, Any]]:
        """Open episodes per lead professional, with their overdue clocks and the worst one."""
        open_counts = self.db.query(
            "SELECT lead_name, lead_agency, COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL"
            " GROUP BY lead_name, lead_agency ORDER BY lead_agency, lead_name"
        )
        overdue: dict[tuple[str, str], list[BoardRow]] = {}
        for row in self.drift(as_at):
            overdue.setdefault((row.lead_name or "", row.lead_agency or ""), []).append(row)
        loads = []
        for name, agency, count in open_counts:
            late = overdue.get((name or "", agency or ""), [])
            worst = late[0] if late else None
            loads.append(
                {
                    "lead": name,
                    "agency": agency,
                    "open_episodes": count,
                    "overdue_clocks": len(late),
                    "worst": None
                    if worst is None
                    else {
                        "episode": worst.episode,
                        "clock": worst.entry.clock.value,
                        "due_on": worst.entry.due_on.isoformat(),
                        "working_days_late": worst.entry.working_days_late,
                    },
                }
            )
        return loads

    def agency_loads(self, as_at: date) -> list[dict[str, Any]]:
        totals: dict[str, dict[str, Any]] = {}
        for load in self.caseloads(as_at):
            agency = totals.setdefault(load["agency"], {
                "agency": load["agency"], "lead_professionals": 0, "open_episodes": 0,
                "overdue_clocks": 0, "worst": None,
            })  # fmt: skip
            agency["lead_professionals"] += 1
            agency["open_episodes"] += load["open_episodes"]
            agency["overdue_clocks"] += load["overdue_clocks"]
            worst = load["worst"]
            if worst and (agency["worst"] is None
                          or worst["working_days_late"] > agency["worst"]["working_days_late"]):  # fmt: skip
                agency["worst"] = worst
        return list(totals.values())

    # ---- alerts ----------------------------------------------------------------------------

    def alerts_due(self, as_at: date) -> list[AlertDue]:
        """Running clocks with an alert rung fallen due by `as_at` and not yet raised."""
        rows = self.db.query(
            "SELECT c.reference, c.clock, c.occurrence, c.due_on, c.lead_name FROM ehqa_clocks c"
            f" WHERE {RUNNING} AND c.next_alert_on IS NOT NULL AND c.next_alert_on <= ?"
            " ORDER BY c.reference, c.seq",
            (as_at.isoformat(),),
        )
        return [AlertDue(r[0], ClockName(r[1]), r[2], date.fromisoformat(r[3]), r[4]) for r in rows]

    def alerts(
        self,
        as_at: date,
        subject: str | None = None,
        role: str | None = None,
        include_cleared: bool = False,
        episode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts raised by `as_at` (open ones unless `include_cleared`), oldest first: all of
        them, those addressed to one lead professional by their stable `subject`, or those a
        `role` is told of (see aggregates.alerts.ROLES_BY_RUNG), or those of one `episode`.
        Never matched by name."""
        where, params = ["raised_on <= ?"], [as_at.isoformat()]
        if not include_cleared:
            where.append("(cleared_on IS NULL OR cleared_on > ?)")
            params.append(as_at.isoformat())
        if episode is not None:
            where.append("reference = ?")
            params.append(episode)
        if subject is not None:
            where.append("lead_subject = ?")
            params.append(subject)
        if role is not None:
            rungs = [rung.value for rung, roles in ROLES_BY_RUNG.items() if role in roles]
            where.append(f"rung IN ({', '.join('?' for _ in rungs) or 'NULL'})")
            params += rungs
        rows = self.db.query(
            "SELECT alert_id, reference, clock, occurrence, rung, fell_due_on, raised_on,"
            " recipients, acknowledged_by, acknowledged_on, cleared_on, lead_name, lead_agency"
            f" FROM ehqa_alerts WHERE {' AND '.join(where)} ORDER BY fell_due_on, alert_id",
            params,
        )
        found = []
        for row in rows:
            (ident, ref, clock, occurrence, rung, fell, raised, recipients, ack_by, ack_on,
             cleared, lead_name, lead_agency) = row  # fmt: skip
            people = json.loads(recipients)
            found.append({
                "id": ident, "episode": ref, "clock": clock, "occurrence": occurrence,
                "rung": rung, "fell_due_on": fell, "raised_on": raised, "recipients": people,
                "acknowledged_by": ack_by, "acknowledged_on": ack_on, "cleared_on": cleared,
                "lead": lead_name, "agency": lead_agency,
            })  # fmt: skip
        return found

    # ---- the values a filter may name (DISTINCT over indexed columns, or small ones) ---------

    def agencies(self) -> list[str]:
        """Every agency that leads an episode or is named in a family's consent."""
        found = {r[0] for r in self.db.query(
            "SELECT DISTINCT lead_agency FROM ehqa_episodes WHERE lead_agency IS NOT NULL")}  # fmt: skip
        for (agencies,) in self.db.query("SELECT DISTINCT consent_agencies FROM ehqa_episodes"):
            found.update(json.loads(agencies))
        return sorted(found)

    def lead_names(self) -> list[str]:
        """Every lead professional of an episode."""
        rows = self.db.query(
            "SELECT DISTINCT lead_name FROM ehqa_episodes WHERE lead_name IS NOT NULL"
        )
        return sorted(r[0] for r in rows)

    def alert_addressees(self) -> list[str]:
        """What alerts can be filtered `for`: the roles they are addressed to, and the subject
        of every lead professional an alert is addressed to."""
        rows = self.db.query(
            "SELECT DISTINCT lead_subject FROM ehqa_alerts WHERE lead_subject IS NOT NULL"
        )
        return [*ALERT_ROLES, *sorted(r[0] for r in rows)]

    # ---- audits ----------------------------------------------------------------------------

    def sample_candidates(
        self, open_only: bool = False, agency: str | None = None
    ) -> list[tuple[str, int]]:
        """Episodes that may be sampled for audit, each with how many agencies are involved."""
        where, params = ["1 = 1"], []
        if open_only:
            where.append("closed_on IS NULL")
        if agency:
            where.append("lead_agency = ?")
            params.append(agency)
        rows = self.db.query(
            f"SELECT reference, consent_agencies FROM ehqa_episodes WHERE {' AND '.join(where)}",
            params,
        )
        return [(ref, len(json.loads(agencies))) for ref, agencies in rows]

    def audits(self) -> list[dict[str, Any]]:
        """Every audit with the agency leading its episode."""
        rows = self.db.query(
            "SELECT a.reference, a.episode, a.scheme, a.auditor, a.kind, a.assigned_on, a.completed_on, a.grade,"
            " a.scores, a.flags, a.concerns, e.lead_agency FROM ehqa_audits a"
            " LEFT JOIN ehqa_episodes e ON e.reference = a.episode ORDER BY a.seq"
        )
        keys = ("audit", "episode", "scheme", "auditor", "kind", "assigned_on", "completed_on", "grade", "scores",
                "flags", "concerns", "agency")  # fmt: skip
        found = []
        for row in rows:
            audit = dict(zip(keys, row, strict=True))
            audit["scores"], audit["flags"] = (
                json.loads(audit["scores"]),
                json.loads(audit["flags"]),
            )
            found.append(audit)
        return found

    def references(self) -> list[str]:
        return [
            r[0] for r in self.db.query("SELECT reference FROM ehqa_episodes ORDER BY opened_seq")
        ]

    # ---- family feedback and the Level 2 Panel ---------------------------------------------

    def _events(self, *kinds: str) -> list[tuple[str, dict[str, Any]]]:
        """Every event of these kinds, as (episode reference, timeline body), in business order."""
        by_id = {episode_id(ref).hex: ref for ref in self.references()}
        rows = self.db.query(
            "SELECT episode_id, body FROM ehqa_timeline"
            f" WHERE event IN ({', '.join('?' for _ in kinds)}) ORDER BY on_date, episode_id, version",
            kinds,
        )
        return [(by_id[ident], json.loads(body)) for ident, body in rows if ident in by_id]

    def feedback_facts(self) -> list[tuple[str, dict[str, Any]]]:
        """What the feedback report needs: each feedback sheet, and the events that make an
        episode due feedback at each point (first consent to an assessment, reviews, closing)."""
        return self._events("Opened", "ConsentRecorded", "ReviewHeld", "Closed", "FeedbackRecorded")

    def panel_caseload(self, as_at: date) -> list[dict[str, Any]]:
        """The Level 2 Panel's caseload as at `as_at`: requests on open episodes still awaiting
        the panel's outcome, and allocations awaiting the panel's review (with its due date)."""
        open_refs = {
            r[0]: (r[1], r[2])
            for r in self.db.query(
                "SELECT reference, lead_name, lead_agency FROM ehqa_episodes"
                " WHERE closed_on IS NULL OR closed_on > ?",
                (as_at.isoformat(),),
            )
        }
        requests: dict[tuple[str, int], dict[str, Any]] = {}
        allocations: dict[str, int] = {}  # the n-th allocation starts the n-th review clock
        occurrence: dict[tuple[str, int], int] = {}
        for ref, body in self._events("PanelRequested", "PanelOutcomeRecorded", "PanelReviewed"):
            if body["on"] > as_at.isoformat() or ref not in open_refs:
                continue
            key = (ref, int(body["request"]))
            if body["event"] == "PanelRequested":
                lead_name, lead_agency = open_refs[ref]
                requests[key] = {
                    "episode": ref, "request": key[1], "status": "awaiting_outcome",
                    "since": body["on"], "due_on": None, "asks": body["asks"], "services": [],
                    "lead": lead_name, "agency": lead_agency,
                }  # fmt: skip
            elif body["event"] == "PanelOutcomeRecorded" and key in requests:
                if body["outcome"] == "advice":
                    del requests[key]
                else:
                    allocations[ref] = allocations.get(ref, 0) + 1
                    occurrence[key] = allocations[ref]
                    requests[key].update(
                        status="awaiting_review", since=body["on"], services=body["services"]
                    )
            elif key in requests:
                del requests[key]
        due = {
            (r[0], r[1]): r[2]
            for r in self.db.query(
                "SELECT reference, occurrence, due_on FROM ehqa_clocks WHERE clock = ?",
                (ClockName.PANEL_REVIEW.value,),
            )
        }
        for key, item in requests.items():
            if key in occurrence:
                item["due_on"] = due.get((key[0], occurrence[key]))
        return sorted(requests.values(), key=lambda i: (i["status"], i["since"], i["episode"]))

    def outcomes_facts(self) -> list[tuple[str, dict[str, Any]]]:
        """What the Supporting Families claims report needs: needs, plans, outcomes and the
        sustained checks of every episode."""
        return self._events(
            "NeedsRecorded", "FamHeld", "SingleAgencyPlanAgreed", "OutcomesRecorded",
            "SustainedCheckRecorded",
        )  # fmt: skip
