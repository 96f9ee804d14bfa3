"""The event log read aggregate by aggregate, for a rebuild that replays each history once.

The library's recorder reads the log only in notification order. A rebuild of a view derived
from aggregates wants each aggregate's whole history at once instead: in a live service's log an
episode's events are spread across months of everyone else's. Both stores keep the events in one
table with a primary key on (originator_id, originator_version) beside the notification id
(SQLite's rowid; PostgreSQL's notification_id column, indexed), so a history is an index range
and the first events (the aggregates' openings) are found in notification order by a scan that
returns only their ids. The table is eventsourcing 9.5's (`pyproject.toml` keeps it below 9.6);
the views share its database (SQLite file, or PostgreSQL database and schema), so these reads go
through the views' own connection.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from uuid import UUID

from projections.db import PostgresViews, SQLiteViews, ViewDatabase

if TYPE_CHECKING:  # (loaded where used: a query asks `newer` without the event store's code)
    from eventsourcing.application import Application
    from eventsourcing.persistence import Notification

IN_LIST = 500  # identifiers named in one query
# Aggregate ids read from SQLite's text, kept as UUIDs: a page names each of an episode's events
# by the same text, and making a UUID of it costs more than the rest of the event's read (emptied
# when it holds this many: a bounded memory, whatever the log's size).
KEPT_IDS = 50_000
_ids: dict[Any, UUID] = {}


@dataclass(frozen=True)
class Opening:
    """An aggregate's first event: where it is in the log, whose it is (as the table holds the
    id, and as a UUID), and at most how many events the aggregate has (its last version)."""

    id: int
    key: Any
    originator_id: UUID
    length: int


class Stored(NamedTuple):
    """A stored event with its notification id: what the mapper decodes, read as a plain tuple
    (the library's frozen dataclass costs more to make than the rest of the read)."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes

    def notification(self) -> Notification:
        from eventsourcing.persistence import Notification

        return Notification(
            id=self.id, originator_id=self.originator_id,
            originator_version=self.originator_version, topic=self.topic, state=self.state,
        )  # fmt: skip


class EventLog:
    """Reads of the application's event table through the views' connection."""

    def __init__(self, db: ViewDatabase, table: str, id_column: str, as_text: bool) -> None:
        self._db, self._table, self._id, self._as_text = db, table, id_column, as_text
        # whether a replay should read its next batch while it writes this one: where another
        # process (PostgreSQL's server) finds the events; an SQLite read is this process's work
        # under the GIL, and read on a second thread it ran no faster (5,000 episodes, best
        # of six: 3.36 s against 3.34 s; on PostgreSQL, best of five: 3.71 s against 3.97 s)
        self.read_ahead = not isinstance(db, SQLiteViews)

    @classmethod
    def of(cls, app: Application[Any], db: ViewDatabase) -> EventLog | None:
        """The log of `app` as the views' database sees it, or None where the views cannot
        read it (events held in memory, or views in another database)."""
        from eventsourcing.sqlite import SQLiteApplicationRecorder

        recorder = app.recorder
        if isinstance(recorder, SQLiteApplicationRecorder) and isinstance(db, SQLiteViews):
            if recorder.datastore.originator_id_type != "uuid":
                return None
            return cls(db, f'"{recorder.events_table_name}"', "rowid", as_text=True)
        postgres = sys.modules.get("eventsourcing.postgres")  # (loaded by a PostgreSQL store only)
        if postgres is None:
            return None
        if isinstance(recorder, postgres.PostgresApplicationRecorder) and isinstance(
            db, PostgresViews
        ):
            if recorder.datastore.originator_id_type != "uuid":
                return None
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            return cls(db, table, "notification_id", as_text=False)
        return None

    def newer(self, topics: Sequence[str], after: int) -> bool:
        """Whether the log holds an event of `topics` after `after` (projections.freshness)."""
        rows = self._db.query(
            f"SELECT 1 FROM {self._table} WHERE {self._id} > ? AND topic IN ({_marks(topics)})"
            " LIMIT 1",
            [after, *topics],
        )
        return bool(rows)

    def last(self, topics: Sequence[str]) -> int:
        """The id of the last event of `topics` in the log (0 if there is none)."""
        rows = self._db.query(
            f"SELECT {self._id} FROM {self._table} WHERE topic IN ({_marks(topics)})"
            f" ORDER BY {self._id} DESC LIMIT 1",
            list(topics),
        )
        return int(rows[0][0]) if rows else 0

    def openings(self, topics: Sequence[str], after: int, upto: int, limit: int) -> list[Opening]:
        """The first events (version 1) of `topics` after `after` up to `upto`, in log order,
        each with its aggregate's last version (one seek of the key's index)."""
        rows = self._db.query(
            f"SELECT {self._id}, originator_id, (SELECT MAX(originator_version)"
            f" FROM {self._table} AS later WHERE later.originator_id = first.originator_id)"
            f" FROM {self._table} AS first WHERE {self._id} > ? AND {self._id} <= ?"
            f" AND originator_version = 1 AND topic IN ({_marks(topics)})"
            f" ORDER BY {self._id} LIMIT ?",
            [after, upto, *topics, limit],
        )
        uuid = UUID if self._as_text else _same
        return [Opening(int(seq), key, uuid(key), int(last)) for seq, key, last in rows]

    def page(self, topics: Sequence[str], start: int, limit: int, stop: int | None) -> list[Stored]:
        """The events of `topics` from `start` up to `stop` (if given), at most `limit`, in log
        order: what the recorder's `select_notifications` reads, read as `histories` reads it."""
        upto = f" AND {self._id} <= ?" if stop is not None else ""
        rows = self._db.query(
            f"SELECT {self._id}, originator_id, originator_version, topic, state"
            f" FROM {self._table} WHERE {self._id} >= ?{upto} AND topic IN ({_marks(topics)})"
            f" ORDER BY {self._id} LIMIT ?",
            [start, *([stop] if stop is not None else []), *topics, limit],
            binary=True,
        )
        make = tuple.__new__
        if not self._as_text:  # (PostgreSQL's ids are read as UUIDs)
            return [
                make(Stored, (seq, key, version, topic,
                              state if type(state) is bytes else bytes(state)))
                for seq, key, version, topic, state in rows
            ]  # fmt: skip
        if len(_ids) > KEPT_IDS:
            _ids.clear()
        kept, uuid = _ids.get, _kept_uuid  # (one look-up: another thread may empty it meanwhile)
        return [
            make(Stored, (seq, kept(key) or uuid(key), version, topic,
                          state if type(state) is bytes else bytes(state)))
            for seq, key, version, topic, state in rows
        ]  # fmt: skip

    def histories(
        self, openings: Sequence[Opening], topics: Sequence[str], upto: int
    ) -> dict[UUID, list[Stored]]:
        """Each aggregate's events of `topics` up to `upto`, in version order."""
        found: dict[UUID, list[Stored]] = {o.originator_id: [] for o in openings}
        for chunk in range(0, len(openings), IN_LIST):
            part = {o.key: o.originator_id for o in openings[chunk : chunk + IN_LIST]}
            rows = self._db.query(
                f"SELECT {self._id}, originator_id, originator_version, topic, state"
                f" FROM {self._table} WHERE originator_id IN ({_marks(part)})"
                f" AND {self._id} <= ? AND topic IN ({_marks(topics)})"
                " ORDER BY originator_id, originator_version",
                [*part, upto, *topics],
                binary=True,  # (PostgreSQL's binary format: the states read in half the time)
            )
            key: Any = None
            originator, events = UUID(int=0), []  # (rows come originator by originator)
            make = tuple.__new__  # (Stored(...) by its own __new__ costs twice as much)
            for seq, row_key, version, topic, state in rows:
                if row_key != key:
                    key, originator = row_key, part[row_key]
                    events = found[originator]
                if type(state) is not bytes:
                    state = bytes(state)
                events.append(make(Stored, (seq, originator, version, topic, state)))
        return found


def read_page(
    app: Application[Any],
    log: EventLog | None,
    topics: Sequence[str],
    start: int,
    limit: int,
    stop: int | None,
) -> Sequence[Notification | Stored]:
    """The events of `topics` from `start` up to `stop` (if given), at most `limit`, in log
    order: through the views' connection where it reads the log (`log`: in PostgreSQL's binary
    format, as plain tuples), else by the recorder. What the runner and a joint catch-up
    (projections.together) read alike."""
    if log is not None and topics:
        return log.page(topics, start, limit, stop)
    return app.recorder.select_notifications(
        start=start, limit=limit, topics=list(topics), stop=stop
    )


def _same(value: Any) -> Any:
    return value


def _kept_uuid(key: str) -> UUID:
    """The UUID of an id as SQLite's table holds it (text), kept for the next event of its
    aggregate (see KEPT_IDS)."""
    made = _ids[key] = UUID(key)
    return made


def _marks(values: Collection[Any]) -> str:
    return ", ".join("?" * len(values))
