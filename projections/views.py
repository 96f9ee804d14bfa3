"""The projections: each turns a batch of stored events into updates of its own tables.

A projection is given the events after its tracking position, in notification order. It first
`prepare`s them (the work that needs no database: decoding, replaying, deriving rows) and then
`process`es what it prepared with a cursor inside the transaction that also moves its tracking
position; it never commits. A projection may stop taking events before the batch's end (to bound
its memory); the batch, and the move of its position, then end at the last event it took.
Preparing outside the transaction keeps the store's write lock short, which matters on SQLite,
where the views share the events' file.

The parts: `protocol` (what a projection is, and the helpers the views share),
`episodes_view` (episodes, clocks and alerts) and `audits_view`; the smaller views are here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from aggregates.alerts import episode_of_alert
from aggregates.audit import Audit
from aggregates.episode import ChildRecord, Episode
from projections.audits_view import AuditsProjection
from projections.db import Cursor
from projections.described import StoredDescriber, StoredFields, dumps
from projections.episodes_view import (
    ALERT_COLUMNS,
    CLOCK_COLUMNS,
    EPISODE_COLUMNS,
    EpisodeRows,
    EpisodesProjection,
)
from projections.histories import Stored
from projections.labels import label_of
from projections.protocol import (
    MOST_ROWS,
    SAFEGUARDING,
    Batch,
    Event,
    History,
    Projection,
    Replayable,
    Unprepared,
    describe_event,
    topics_of,
)

__all__ = [
    "ALERT_COLUMNS", "CLOCK_COLUMNS", "EPISODE_COLUMNS", "MOST_ROWS", "SAFEGUARDING",
    "AuditsProjection", "Batch", "ChildrenProjection", "EpisodeRows", "EpisodesProjection",
    "Event", "History", "OutboxProjection", "Projection", "Replayable", "TimelineProjection",
    "Unprepared", "describe_event", "topics_of",
]  # fmt: skip


class TimelineProjection:
    """Each episode's events with a human-readable label, keyed by episode id and version."""

    name = "timeline"
    topics = topics_of(Episode)
    tables = ["ehqa_timeline"]

    def prepare(self, batch: Batch) -> list[tuple[Any, ...]]:
        return [self._row(event) for _, event in islice(batch, MOST_ROWS)]

    def reader(self, mapper: Mapper[Any]) -> Callable[[Stored], tuple[Any, ...]]:
        """A replay reads each event's row from the stored JSON (`StoredDescriber`: the row is
        byte for byte the one `prepare` makes of the decoded event, for a fraction of the cost);
        its histories hold these rows."""
        describe, last = StoredDescriber(mapper), [UUID(int=0), UUID(int=0).hex]

        def row(stored: Stored) -> tuple[Any, ...]:
            body = describe(stored)
            if stored.originator_id is not last[0]:  # (a history's events share their id)
                last[:] = stored.originator_id, stored.originator_id.hex
            return (last[1], stored.originator_version, body["on"], body["event"],
                    label_of(body), dumps(body))  # fmt: skip

        return row

    def replay(self, histories: Sequence[History]) -> list[tuple[Any, ...]]:
        """The rows of whole histories (as `reader` reads them), in key order: written episode
        by episode, the table's key index takes them a leaf at a time, however large it has
        grown."""
        in_order = sorted(histories, key=lambda h: h.events[0][1][0] if h.events else "")
        return [row for history in in_order for _, row in history.events]

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        for seq, row in history.events:
            yield seq, [row]

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


class Fact(NamedTuple):
    """What the children view reads of a child's record's event (as a replay reads it)."""

    kind: str
    originator_id: UUID
    child: Any
    reference: Any


NEEDS = {"Registered": "child", "EpisodeOpened": "reference"}  # the field each kind is read for


def _kind(event: Any) -> str:
    return event.kind if type(event) is Fact else type(event).__name__


class ChildrenProjection(Unprepared):
    """Which episode is open for each child, and every episode each child has had."""

    name = "children"
    topics = topics_of(ChildRecord)
    tables = ["ehqa_children"]

    def reader(self, mapper: Mapper[Any]) -> Callable[[Stored], Any]:
        """A replay reads from the stored JSON what `process` reads of each event (a `Fact`):
        an event it cannot read that way is decoded, as the live follower decodes it."""
        fields, decode = StoredFields(mapper), mapper.to_domain_event

        def read(stored: Stored) -> Any:
            found = fields(stored)
            if found is not None:
                kind, parsed = found
                need = NEEDS.get(kind)
                value = parsed.get(need) if need else None
                if (need is None or need in parsed) and not isinstance(value, dict):
                    child, reference = (value, None) if need == "child" else (None, value)
                    return Fact(kind, stored.originator_id, child, reference)
            return decode(cast(Notification, stored))

        return read

    def replay(self, histories: Sequence[History]) -> list[tuple[int, Any]]:
        """Whole histories: each record's row is written once, with all its events."""
        return [item for history in histories for item in history.events]

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, Any]]:
        for item in history.events:
            yield item[0], [item]

    def process(self, cur: Cursor, batch: list[tuple[int, Any]]) -> None:
        """Apply the batch (events, or a replay's `Fact`s) in memory to the rows it touches,
        then write each row once."""
        registered = {e.originator_id for _, e in batch if _kind(e) == "Registered"}
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
            record, kind = event.originator_id.hex, _kind(event)
            if kind == "Registered":
                rows[record] = [event.child, None, []]
                new.add(record)
            elif kind == "EpisodeOpened":
                rows[record][1] = event.reference
                rows[record][2].append(event.reference)
            elif kind == "EpisodeClosed":
                rows[record][1] = None
        cur.insert_rows("ehqa_children", ("record_id", "child", "open_episode", "episodes"),
                        [(r, v[0], v[1], json.dumps(v[2])) for r, v in rows.items() if r in new])  # fmt: skip
        cur.executemany(
            "UPDATE ehqa_children SET open_episode = ?, episodes = ? WHERE record_id = ?",
            [(v[1], json.dumps(v[2]), r) for r, v in rows.items() if r not in new],
        )


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
