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
from collections.abc import Callable, Iterable
from itertools import islice
from operator import itemgetter
from typing import Any, NamedTuple, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, Notification

from aggregates.alerts import episode_of_alert
from aggregates.audit import Audit
from aggregates.episode import ChildRecord, Episode
from projections.audits_view import AuditsProjection
from projections.db import Cursor
from projections.described import StoredDescriber, StoredFields, body_text, dumps
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


# Rows a timeline batch holds (a row is a few short texts, under a kilobyte). More than
# MOST_ROWS: each batch's commit writes again the pages of the table's key index its rows touch,
# most of them once the table is large. Measured on SQLite, 50,000 episodes (913,251 events):
# a rebuild in 24 s instead of 27 s, its peak RSS 115 MB instead of 86 MB; 100,000 gained no more.
TIMELINE_ROWS = 50_000


class TimelineProjection:
    """Each episode's events with a human-readable label, keyed by episode id and version.

    Catch-up and rebuild read each event's row from the stored JSON (`reader`), in log order: a
    row is the event's own, whatever else its episode holds, so no history need be replayed."""

    name = "timeline"
    topics = topics_of(Episode)
    tables = ["ehqa_timeline"]

    def prepare(self, batch: Iterable[tuple[int, Any]]) -> list[tuple[Any, ...]]:
        """The rows `reader` read (in the key's order: the table's key index takes each episode's
        rows together)."""
        rows = [row for _, row in islice(batch, TIMELINE_ROWS)]
        # (by episode, a stable sort: each episode's rows stay in log order, which is version
        # order, so in the key's order; comparing the ids alone sorts in a third of the time)
        rows.sort(key=itemgetter(0))
        return rows

    def rows(self, batch: Batch) -> list[tuple[Any, ...]]:
        """The rows of decoded events (what `prepare` is given the rows of, read)."""
        return [self._row(event) for _, event in islice(batch, MOST_ROWS)]

    def reader(self, mapper: Mapper[Any]) -> Callable[[Stored], tuple[Any, ...]]:
        """Each event's row read from the stored JSON (`StoredDescriber`: the row is byte for
        byte the one `_row` makes of the decoded event, for a fraction of the cost)."""
        describe = StoredDescriber(mapper)

        def row(stored: Stored) -> tuple[Any, ...]:
            body = describe(stored)
            return (stored.originator_id.hex, stored.originator_version, body["on"], body["event"],
                    label_of(body), body_text(body))  # fmt: skip

        return row

    @staticmethod
    def _row(event: Event) -> tuple[Any, ...]:
        body = describe_event(event)
        return (
            event.originator_id.hex,
            event.originator_version,
            body["on"],
            body["event"],
            label_of(body),
            body_text(body),
        )

    def process(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        columns = ("episode_id", "version", "on_date", "event", "label", "body")
        cur.insert_rows("ehqa_timeline", columns, rows)


class Fact(NamedTuple):
    """What the children view reads of a child's record's event (see `ChildrenProjection.reader`)."""

    kind: str
    originator_id: UUID
    child: Any
    reference: Any


NEEDS = {"Registered": "child", "EpisodeOpened": "reference"}  # the field each kind is read for


def _listed(text: str) -> list[str]:
    """A child's episodes, as `dumps` wrote them (orjson reads them in half json's time; it
    refuses an escaped lone surrogate, which json reads)."""
    try:
        return cast(list[str], orjson.loads(text))
    except orjson.JSONDecodeError:
        return cast(list[str], json.loads(text))


def _kind(event: Any) -> str:
    return event.kind if type(event) is Fact else type(event).__name__


# Events a children batch holds (a `Fact` each, about 200 bytes). A child's record touched in an
# earlier batch is read back and written again: more than MOST_ROWS, fewer batches read fewer.
CHILDREN_ROWS = 100_000


class ChildrenProjection:
    """Which episode is open for each child, and every episode each child has had.

    Catch-up and rebuild read the events in log order: a child's record is short, but its
    events are spread across the log, and reading each record's whole history at once (as a
    replay would) reads the log at random, more slowly the larger it is."""

    name = "children"
    topics = topics_of(ChildRecord)
    tables = ["ehqa_children"]

    def prepare(self, batch: Batch) -> list[tuple[int, Any]]:
        return list(islice(batch, CHILDREN_ROWS))

    def reader(self, mapper: Mapper[Any]) -> Callable[[Stored], Any]:
        """What `process` reads of each event (a `Fact`), read from the stored JSON: an event it
        cannot read that way is decoded, as the mapper decodes it."""
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

    def process(self, cur: Cursor, batch: list[tuple[int, Any]]) -> None:
        """Apply the batch (events, or what `reader` read of them) in memory to the rows it
        touches, then write each row once."""
        events = [(event.originator_id.hex, _kind(event), event) for _, event in batch]
        registered = {record for record, kind, _ in events if kind == "Registered"}
        touched = sorted({record for record, _, _ in events} - registered)  # (the others: no row)
        rows: dict[str, list[Any]] = {}
        columns = ("child", "open_episode", "episodes")
        for record, child, open_episode, episodes in cur.rows_with(
            "ehqa_children", "record_id", columns, touched
        ):
            rows[record] = [child, open_episode, _listed(episodes)]
        for record, kind, event in events:
            if kind == "Registered":
                rows[record] = [event.child, None, []]
            elif kind == "EpisodeOpened":
                rows[record][1] = event.reference
                rows[record][2].append(event.reference)
            elif kind == "EpisodeClosed":
                rows[record][1] = None
        cur.insert_rows("ehqa_children", ("record_id", "child", "open_episode", "episodes"),
                        [(r, v[0], v[1], dumps(v[2])) for r, v in rows.items()
                         if r in registered])  # fmt: skip
        cur.update_texts("ehqa_children", "record_id", ("open_episode", "episodes"),
                         [(r, v[1], dumps(v[2])) for r, v in rows.items()
                          if r not in registered])  # fmt: skip


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
