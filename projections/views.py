"""The projections: each turns a batch of stored events into updates of its own tables.

A projection is given the events after its tracking position, in notification order. It first
`prepare`s them (the work that needs no database: decoding, replaying, deriving rows) and then
`process`es what it prepared with a cursor inside the transaction that also moves its tracking
position; it never commits. A projection may stop taking events before the batch's end (to bound
its memory); the batch, and the move of its position, then end at the last event it took.
Preparing outside the transaction keeps the store's write lock short, which matters on SQLite,
where the views share the events' file.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol

from aggregates.alerts import Rung, episode_of_alert, ladder
from aggregates.audit import Audit
from aggregates.calendar import WorkingCalendar
from aggregates.clocks import AFTER_CLOSURE, due_dates
from aggregates.episode import ChildRecord, Episode
from aggregates.policy import ClockName, Policy
from projections.db import Cursor
from projections.labels import label_of

Event = DomainEventProtocol[UUID]
Batch = Iterable[tuple[int, Event]]  # (notification id, event), read lazily: iterate it once
BOOKKEEPING = {"originator_id", "originator_version", "timestamp", "originator_topic"}
NOT_DESCRIBED = frozenset({*BOOKKEEPING, "on"})
SAFEGUARDING = "safeguarding"  # the pseudo-clock of alerts raised by audits' safeguarding concerns
MOST_ROWS = 20_000  # events a projection holds in memory (as rows or events) for one batch


class Projection(Protocol):
    name: str
    topics: list[str]
    tables: list[str]

    def prepare(self, batch: Batch) -> Any: ...

    def process(self, cur: Cursor, prepared: Any) -> None: ...


@dataclass
class History:
    """One aggregate's events as a rebuild reads them: whole, in version order (an event that
    could not be decoded is left out, and dead-lettered by the runner)."""

    opened: int  # the notification id of its first event
    events: list[tuple[int, Event]]  # (notification id, event)


class Replayable(Projection, Protocol):
    """A projection whose rows are derived from aggregates, which a rebuild can replay one whole
    history at a time (each aggregate's rows derived once) instead of in log order."""

    def replay(self, histories: Sequence[History]) -> Any:
        """Replay each history whole and derive its rows once; raise if any event cannot be
        applied or any row derived (the runner then takes the histories one at a time)."""
        ...

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        """The history event by event, as catch-up applies the events of a failed batch: for
        each event, the rows as they stand after it, or the exception that kept it out."""
        ...


class Unprepared:
    """For projections whose work all needs the view's current rows: nothing to prepare."""

    def prepare(self, batch: Batch) -> list[tuple[int, Event]]:
        return list(islice(batch, MOST_ROWS))


def topics_of(*classes: type) -> list[str]:
    return [
        f"{cls.__module__}:{cls.__qualname__}"
        for owner in classes
        for cls in vars(owner).values()
        if isinstance(cls, type) and issubclass(cls, owner.Event) and cls is not owner.Event  # type: ignore[attr-defined]
    ]


def describe_event(event: Event) -> dict[str, Any]:
    """An event as the timeline shows it: business date, recorded time, kind and fields."""
    body = {
        "on": event.on.isoformat(),  # type: ignore[attr-defined]
        "recorded_at": event.timestamp.isoformat(),  # type: ignore[attr-defined]
        "event": type(event).__name__,
    }
    for key, value in event.__dict__.items():  # (one pass: a rebuild describes every event)
        if key not in NOT_DESCRIBED:
            body[key] = value.isoformat() if isinstance(value, date) else value
    return body


class TimelineProjection:
    """Each episode's events with a human-readable label, keyed by episode id and version."""

    name = "timeline"
    topics = topics_of(Episode)
    tables = ["ehqa_timeline"]

    def prepare(self, batch: Batch) -> list[tuple[Any, ...]]:
        return [self._row(event) for _, event in islice(batch, MOST_ROWS)]

    def replay(self, histories: Sequence[History]) -> list[tuple[Any, ...]]:
        """The rows of whole histories, in key order: written episode by episode, the table's
        key index takes them a leaf at a time, however large it has grown."""
        in_order = sorted(
            histories, key=lambda h: h.events[0][1].originator_id.hex if h.events else ""
        )
        return [self._row(event) for history in in_order for _, event in history.events]

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        for seq, event in history.events:
            outcome: list[tuple[Any, ...]] | Exception
            try:
                outcome = [self._row(event)]
            except Exception as error:
                outcome = error
            yield seq, outcome

    @staticmethod
    def _row(event: Event) -> tuple[Any, ...]:
        body = describe_event(event)
        return (
            event.originator_id.hex,
            event.originator_version,
            body["on"],
            body["event"],
            label_of(body),
            json.dumps(body),
        )

    def process(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        columns = ("episode_id", "version", "on_date", "event", "label", "body")
        cur.insert_rows("ehqa_timeline", columns, rows)


class ChildrenProjection(Unprepared):
    """Which episode is open for each child, and every episode each child has had."""

    name = "children"
    topics = topics_of(ChildRecord)
    tables = ["ehqa_children"]

    def replay(self, histories: Sequence[History]) -> list[tuple[int, Event]]:
        """Whole histories: each record's row is written once, with all its events."""
        return [item for history in histories for item in history.events]

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        for item in history.events:
            yield item[0], [item]

    def process(self, cur: Cursor, batch: list[tuple[int, Event]]) -> None:
        """Apply the batch in memory to the rows it touches, then write each row once."""
        registered = {e.originator_id for _, e in batch if type(e).__name__ == "Registered"}
        touched = sorted(  # (a record registered in the batch has no row yet)
            {e.originator_id.hex for _, e in batch if e.originator_id not in registered}
        )
        rows: dict[str, list[Any]] = {}
        for chunk in range(0, len(touched), 500):
            ids = touched[chunk : chunk + 500]
            cur.execute(
                "SELECT record_id, child, open_episode, episodes FROM ehqa_children"
                f" WHERE record_id IN ({', '.join('?' * len(ids))})",
                ids,
            )
            for record, child, open_episode, episodes in cur.fetchall():
                rows[record] = [child, open_episode, json.loads(episodes)]
        new = set()
        for _, event in batch:
            record, kind = event.originator_id.hex, type(event).__name__
            if kind == "Registered":
                rows[record] = [event.child, None, []]  # type: ignore[attr-defined]
                new.add(record)
            elif kind == "EpisodeOpened":
                rows[record][1] = event.reference  # type: ignore[attr-defined]
                rows[record][2].append(event.reference)  # type: ignore[attr-defined]
            elif kind == "EpisodeClosed":
                rows[record][1] = None
        cur.insert_rows("ehqa_children", ("record_id", "child", "open_episode", "episodes"),
                        [(r, v[0], v[1], json.dumps(v[2])) for r, v in rows.items() if r in new])  # fmt: skip
        cur.executemany(
            "UPDATE ehqa_children SET open_episode = ?, episodes = ? WHERE record_id = ?",
            [(v[1], json.dumps(v[2]), r) for r, v in rows.items() if r not in new],
        )


EPISODE_COLUMNS = (
    "reference", "child", "state", "lead_name", "lead_agency", "lead_subject", "policy", "origin", "pre_birth",
    "opened_on", "consent_agencies", "closed_on", "closed_reason", "closure_summary", "version",
    "opened_seq",
)  # fmt: skip
CLOCK_COLUMNS = (
    "reference", "clock", "occurrence", "started_on", "due_on", "stopped_on", "closed_on",
    "exceptions", "lead_name", "lead_agency", "policy", "seq", "next_alert_on", "next_rung",
)  # fmt: skip
ALERT_COLUMNS = (
    "alert_id", "reference", "clock", "occurrence", "rung", "fell_due_on", "raised_on",
    "recipients", "acknowledged_by", "acknowledged_on", "cleared_on", "lead_name", "lead_agency",
    "lead_subject",
)  # fmt: skip


@dataclass
class EpisodeRows:
    """What a batch changes in the episodes view: each touched episode's rows, derived once."""

    new: list[tuple[Any, ...]] = field(default_factory=list)
    changed: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)


class EpisodesProjection:
    """Each episode's summary and every occurrence of its clocks (the drift board).

    The episode's facts come from the domain itself: its events are applied to the episode as
    it stood before them (kept in a small cache, or read back at that version), so the clocks
    here are exactly the aggregate's.
    """

    name = "episodes"
    topics = topics_of(Episode)
    tables = ["ehqa_episodes", "ehqa_clocks", "ehqa_alerts"]
    clears = [
        "DELETE FROM ehqa_episodes",
        f"DELETE FROM ehqa_clocks WHERE clock <> '{ClockName.AUDIT_ACTIONS.value}'",
        f"DELETE FROM ehqa_alerts WHERE clock NOT IN ('{ClockName.AUDIT_ACTIONS.value}', '{SAFEGUARDING}')",
    ]

    def __init__(
        self,
        load: Callable[[UUID, int], Episode],
        policy: Callable[[str], Policy],
        calendar: WorkingCalendar,
        cache_size: int = 20_000,
    ) -> None:
        self._load = load
        self._policy = policy
        self._calendar = calendar
        self._cache: OrderedDict[UUID, Episode] = OrderedDict()
        self._cache_size = cache_size
        self.derivations = 0  # clock derivations (each derives one episode's clocks): a counter

    def prepare(self, batch: Batch) -> EpisodeRows:
        """Replay the batch into the episodes it touches; then derive each one's rows once.

        However many of an episode's events the batch holds, its rows are derived and written
        once per batch, which is why a rebuild reads the log in large batches. The batch ends
        early once it has touched as many episodes as the cache holds.
        """
        touched: dict[UUID, Any] = {}
        opened: dict[UUID, int] = {}  # episodes the batch opens, with their first event's id
        for seq, event in batch:
            episode_id = event.originator_id
            aggregate = touched.get(episode_id)
            if aggregate is None:
                aggregate = self._before(episode_id, event.originator_version)
            try:
                touched[episode_id] = cast(Any, event).mutate(aggregate)
            except Exception:
                self._cache.pop(episode_id, None)  # (it may be half-changed; the batch is retried)
                raise
            if event.originator_version == 1:
                opened[episode_id] = seq
            if len(touched) >= self._cache_size:
                break
        rows = EpisodeRows()
        for episode_id, episode in touched.items():
            self._remember(episode)
            self._add_rows(rows, episode, opened.get(episode_id))
        return rows

    def replay(self, histories: Sequence[History]) -> EpisodeRows:
        """Replay each episode's whole history, then derive its rows: once per rebuild.

        Raises at the first event that does not follow the one before it (one was left out as
        undecodable) or cannot be applied, and if a row cannot be derived: the runner then
        takes the histories one at a time, and event by event where one fails.
        """
        rows = EpisodeRows()
        for history in histories:
            episode: Any = None
            for _, event in history.events:
                expected = 1 if episode is None else episode.version + 1
                if event.originator_version != expected:
                    raise ValueError(f"version {event.originator_version} follows {expected - 1}")
                episode = cast(Any, event).mutate(episode)
            if episode is not None:
                self._add_rows(rows, episode, history.opened)
        return rows

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, EpisodeRows | Exception]]:
        """Event by event, as catch-up isolates the events of a failed batch: the episode as it
        stood before each event comes from the event before (or is read back at that version,
        as `prepare` does), so an event after one that failed fails in the same way."""
        episode: Episode | None = None
        for seq, event in history.events:
            version = event.originator_version
            outcome: EpisodeRows | Exception
            try:
                before = None if version == 1 else episode
                if version > 1 and (episode is None or episode.version != version - 1):
                    before = self._load(event.originator_id, version - 1)
                try:
                    episode = cast(Any, event).mutate(before)
                except Exception:
                    episode = None  # (it may be half-changed)
                    raise
                assert episode is not None
                outcome = EpisodeRows()
                self._add_rows(outcome, episode, history.opened if version == 1 else None)
            except Exception as error:
                outcome = error
            yield seq, outcome

    def _add_rows(self, rows: EpisodeRows, episode: Episode, opened: int | None) -> None:
        """The episode's rows: new (with the id of its first event) or changed."""
        summary = self._summary(episode)
        if opened is not None:
            rows.new.append((*summary, opened))
        else:
            rows.changed.append((*summary[1:], episode.reference))
        rows.clocks += self._clock_rows(episode)
        rows.alerts += self._alert_rows(episode)

    def process(self, cur: Cursor, rows: EpisodeRows) -> None:
        changed = [(row[-1],) for row in rows.changed]
        cur.insert_rows("ehqa_episodes", EPISODE_COLUMNS, rows.new)
        cur.executemany(
            "UPDATE ehqa_episodes SET child = ?, state = ?, lead_name = ?, lead_agency = ?,"
            " lead_subject = ?, policy = ?, origin = ?, pre_birth = ?, opened_on = ?, consent_agencies = ?,"
            " closed_on = ?, closed_reason = ?, closure_summary = ?, version = ?"
            " WHERE reference = ?",
            rows.changed,
        )
        cur.executemany("DELETE FROM ehqa_clocks WHERE reference = ?", changed)
        cur.executemany("DELETE FROM ehqa_alerts WHERE reference = ?", changed)
        cur.insert_rows("ehqa_clocks", CLOCK_COLUMNS, rows.clocks)
        cur.insert_rows("ehqa_alerts", ALERT_COLUMNS, rows.alerts)

    def _before(self, episode_id: UUID, version: int) -> Episode | None:
        if version == 1:
            return None
        cached = self._cache.get(episode_id)
        if cached is not None and cached.version == version - 1:
            return cached
        return self._load(episode_id, version - 1)

    def _remember(self, episode: Episode) -> None:
        self._cache[episode.id] = episode
        self._cache.move_to_end(episode.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @staticmethod
    def summary(episode: Episode) -> tuple[Any, ...]:
        """The episode's row of the episodes view."""
        return EpisodesProjection._summary(episode)

    @staticmethod
    def _summary(episode: Episode) -> tuple[Any, ...]:
        lead = episode.lead or {}
        return (
            episode.reference,
            episode.child,
            episode.state.value,
            lead.get("name"),
            lead.get("agency"),
            lead.get("subject"),
            episode.policy,
            episode.origin.value,
            int(episode.pre_birth),
            episode.opened_on.isoformat(),
            json.dumps(episode.consent_agencies),
            _iso(episode.closed_on),
            episode.closed_reason and episode.closed_reason.value,
            episode.closure_summary,
            episode.version,
        )

    @staticmethod
    def _alert_rows(episode: Episode) -> list[tuple[Any, ...]]:
        lead = episode.lead or {}
        return [
            (ident, episode.reference, a["clock"], a["occurrence"], a["rung"],
             a["fell_due_on"].isoformat(), a["raised_on"].isoformat(),
             json.dumps(a["recipients"]), a["acknowledged_by"], _iso(a["acknowledged_on"]),
             _iso(a["cleared_on"]), lead.get("name"), lead.get("agency"), lead.get("subject"))
            for ident, a in episode.alerts.items()
        ]  # fmt: skip

    def _clock_rows(self, episode: Episode) -> list[tuple[Any, ...]]:
        """Every clock occurrence, with the next alert rung still to raise while it runs."""
        self.derivations += 1
        lead = episode.lead or {}
        policy = self._policy(episode.policy)
        raised: dict[tuple[str, int], set[Rung]] = {}
        for alert in episode.alerts.values():
            raised.setdefault((alert["clock"], alert["occurrence"]), set()).add(Rung(alert["rung"]))
        rows = []
        for seq, (span, due) in enumerate(due_dates(episode.facts, policy, self._calendar)):
            following = None
            if span.running and (episode.is_open or span.clock in AFTER_CLOSURE):
                rungs = raised.get((span.clock.value, span.occurrence), set())
                following = ladder(due, policy.escalation, self._calendar).next_after(rungs)
            rows.append((
                episode.reference, span.clock.value, span.occurrence, span.started_on.isoformat(),
                due.isoformat(), _iso(span.stopped_on), _iso(span.closed_on),
                json.dumps([(on.isoformat(), reason) for on, reason in span.exceptions])
                if span.exceptions else "[]",
                lead.get("name"), lead.get("agency"), episode.policy, seq,
                following and following[1].isoformat(), following and following[0].value,
            ))  # fmt: skip
        return rows


class OutboxProjection:
    """Every raised alert, once, waiting to be delivered to each sink."""

    name = "outbox"
    topics = [t for t in (*topics_of(Episode), *topics_of(Audit))
              if t.endswith((".AlertRaised", ".SafeguardingConcernRaised"))]  # fmt: skip
    tables = ["ehqa_outbox"]

    def prepare(self, batch: Batch) -> list[tuple[Any, ...]]:
        rows = []
        for seq, event in islice(batch, MOST_ROWS):
            body = describe_event(event)
            # (an audit's alerts name the audit; its safeguarding concerns name the episode)
            reference = body.get("episode") or episode_of_alert(body["alert_id"])
            message = label_of(body)
            rows.append((body["alert_id"], seq, json.dumps({**body, "episode": reference,
                                                             "message": message})))  # fmt: skip
        return rows

    def process(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany("INSERT INTO ehqa_outbox (alert_id, seq, body) VALUES (?, ?, ?)", rows)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


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
