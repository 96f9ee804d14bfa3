"""Tamper evidence: every stored event is chained to the previous event of its aggregate, and the
whole log by a running hash in notification order.

The hashes are over the bytes as stored (originator id, version, topic and the state as the store
holds it, after whatever cipher or compression the transcoder applied), never over decoded
events: a change of codec, or the destruction of a child's key, leaves them as they were.

- `event_hash = sha256(prev_hash, lengths, originator id, topic, state)`, where `prev_hash` is
  the event hash of the same aggregate's previous version (32 zero bytes for its first) and
  `lengths` four unsigned 64-bit big-endian numbers: the lengths of the originator id (its 32
  hex digits, as UTF-8), the version, the length of the topic (UTF-8) and of the state;
- `log_hash = sha256(previous row's log_hash, notification id as 8 bytes big-endian,
  event_hash)`, starting from 32 zero bytes.

One row per event in `ehqa_chain`, keyed by notification id, written by the recorders below in
the same transaction as the events (each holds the store's write lock while it does: SQLite's
single writer; on PostgreSQL eventsourcing's EXCLUSIVE lock on the events table). Events stored
before the chain existed, or by a release without it, are chained by `seal` (`ehqa verify
--seal`) and, for any left, by the next write, before its own events.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteProcessRecorder

CHAIN_TABLE = "ehqa_chain"
ZERO = bytes(32)
SEAL_BATCH = 2_000  # events chained per transaction by `seal`
PREVIOUS_AT_ONCE = 400  # previous versions asked for in one query (SQLite: at most 500)
SEAL_HELD = 200_000  # event hashes `seal` keeps between batches (then it starts afresh)

_U64 = struct.Struct(">Q")
_LENGTHS = struct.Struct(
    ">QQQQ"
)  # the originator id's length, the version, the topic's, the state's


def originator_text(originator_id: UUID | str) -> str:
    """The originator id as both stores can give it back: a UUID's 32 hex digits."""
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def event_hash(prev: bytes, originator: str, version: int, topic: str, state: bytes) -> bytes:
    oid, name = originator.encode(), topic.encode()
    lengths = _LENGTHS.pack(len(oid), version, len(name), len(state))
    return sha256(b"".join((prev, lengths, oid, name, state))).digest()


def log_hash(prev: bytes, notification_id: int, event: bytes) -> bytes:
    return sha256(prev + _U64.pack(notification_id) + event).digest()


@dataclass(frozen=True)
class Row:
    """An event as stored, at its place in the log."""

    notification_id: int
    originator: str
    version: int
    topic: str
    state: bytes


class ChainSQL:
    """The chain's statements for one store (SQLite's `?` or psycopg's `%s` placeholders)."""

    def __init__(self, chain: str, events: str, id_column: str, mark: str) -> None:
        self.table = chain
        self.head = (
            f"SELECT notification_id, log_hash FROM {chain} ORDER BY notification_id DESC LIMIT 1"
        )
        self.mark = mark
        self.insert = (
            f"INSERT INTO {chain} (notification_id, originator_id, originator_version,"
            f" prev_hash, event_hash, log_hash) VALUES ({', '.join([mark] * 6)})"
        )
        self.unchained = (
            f"SELECT {id_column}, originator_id, originator_version, topic, state FROM {events}"
            f" WHERE {id_column} > {mark} AND {id_column} < {mark} ORDER BY {id_column} LIMIT {mark}"
        )
        self.max_event = f"SELECT MAX({id_column}) FROM {events}"

    def previous_of(self, count: int) -> str:
        """The chained event hashes of `count` (aggregate, version) pairs, each found by the
        chain's index. SQLite does not use that index for a row value IN a list of more than
        one pair: it scans the whole chain (0.2 s a save at 1.2 million events, measured), so
        there each pair is a lookup of its own, in one compound query (at most 500 terms, as
        SQLite allows: PREVIOUS_AT_ONCE)."""
        columns = f"SELECT originator_id, originator_version, event_hash FROM {self.table}"
        if self.mark == "?":
            one = f"{columns} WHERE originator_id = ? AND originator_version = ?"
            return " UNION ALL ".join([one] * count)
        pairs = ", ".join([f"({self.mark}, {self.mark})"] * count)
        return f"{columns} WHERE (originator_id, originator_version) IN (VALUES {pairs})"


def append(cursor: Any, sql: ChainSQL, rows: Sequence[Row]) -> None:
    """Chain `rows` (the events just inserted, in notification order) after the chain's head,
    first chaining any events stored without a chain row before them. The caller holds the
    store's write lock, inside the transaction that inserted the rows."""
    if not rows:
        return
    rows = sorted(rows, key=lambda row: row.notification_id)
    head_id, head_log = _head(cursor, sql)
    while rows[0].notification_id > head_id + 1:  # (events stored without chain rows? rarely)
        gap = _unchained(cursor, sql, head_id, rows[0].notification_id, SEAL_BATCH)
        if not gap:
            break
        head_id, head_log = _write(cursor, sql, gap, head_log)
    _write(cursor, sql, rows, head_log)


def _values(row: Any) -> tuple[Any, ...]:
    """A row as a tuple, from SQLite's rows or eventsourcing's psycopg dict rows."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _head(cursor: Any, sql: ChainSQL) -> tuple[int, bytes]:
    cursor.execute(sql.head)
    head = cursor.fetchone()
    if head is None:
        return 0, ZERO
    nid, log = _values(head)
    return int(nid), bytes(log)


def _unchained(cursor: Any, sql: ChainSQL, after: int, before: int, limit: int) -> list[Row]:
    cursor.execute(sql.unchained, (after, before, limit))
    return [stored_row(*_values(row)) for row in cursor.fetchall()]


def stored_row(nid: Any, originator: Any, version: Any, topic: Any, state: Any) -> Row:
    return Row(int(nid), originator_text(originator), int(version), str(topic), as_bytes(state))


def as_bytes(value: Any) -> bytes:
    """A state as bytes: a blob, or the text SQLite gives back for a value stored as text."""
    return value.encode() if isinstance(value, str) else bytes(value)


def _write(
    cursor: Any,
    sql: ChainSQL,
    rows: Sequence[Row],
    head_log: bytes,
    latest: dict[tuple[str, int], bytes] | None = None,
) -> tuple[int, bytes]:
    """Insert the chain rows of `rows`; `latest` holds event hashes already known (chain rows
    never change once written), so that a version's predecessor is looked up only once."""
    latest = {} if latest is None else latest
    _known(cursor, sql, rows, latest)
    params = []
    for row in rows:
        prev = ZERO if row.version <= 1 else latest.get((row.originator, row.version - 1), ZERO)
        digest = event_hash(prev, row.originator, row.version, row.topic, row.state)
        latest[(row.originator, row.version)] = digest
        head_log = log_hash(head_log, row.notification_id, digest)
        params.append((row.notification_id, row.originator, row.version, prev, digest, head_log))
    cursor.executemany(sql.insert, params)
    return rows[-1].notification_id, head_log


def _known(
    cursor: Any, sql: ChainSQL, rows: Sequence[Row], latest: dict[tuple[str, int], bytes]
) -> None:
    """Add to `latest` the chained event hashes of the previous versions of `rows` that it
    lacks (one query for up to PREVIOUS_AT_ONCE of them); a version with none chained before
    it follows 32 zero bytes."""
    own = {(row.originator, row.version) for row in rows}
    wanted = list(dict.fromkeys(
        key for row in rows if row.version > 1
        and (key := (row.originator, row.version - 1)) not in latest and key not in own
    ))  # fmt: skip
    for start in range(0, len(wanted), PREVIOUS_AT_ONCE):
        chunk = wanted[start : start + PREVIOUS_AT_ONCE]
        cursor.execute(sql.previous_of(len(chunk)), [part for key in chunk for part in key])
        for found in cursor.fetchall():
            oid, version, digest = _values(found)
            latest[(str(oid), int(version))] = bytes(digest)


def _rows(stored_events: Sequence[StoredEvent], ids: Iterable[int]) -> list[Row]:
    return [
        Row(nid, originator_text(s.originator_id), s.originator_version, s.topic, s.state)
        for s, nid in zip(stored_events, ids, strict=True)
    ]


# ---- the recorders -----------------------------------------------------------------------------

SQLITE_CHAIN_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (
        notification_id INTEGER PRIMARY KEY,
        originator_id TEXT NOT NULL,
        originator_version INTEGER NOT NULL,
        prev_hash BLOB NOT NULL,
        event_hash BLOB NOT NULL,
        log_hash BLOB NOT NULL
    )""",
    f"CREATE UNIQUE INDEX IF NOT EXISTS {CHAIN_TABLE}_event"
    f" ON {CHAIN_TABLE} (originator_id, originator_version)",
]


class ChainedSQLiteRecorder(SQLiteProcessRecorder):
    """eventsourcing's SQLite process recorder, writing the chain rows of what it inserts."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *SQLITE_CHAIN_DDL]

    @property
    def chain_sql(self) -> ChainSQL:
        return ChainSQL(CHAIN_TABLE, self.events_table_name, "rowid", "?")

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # (the events are inserted first: the transaction holds the write lock from then on)
        returning = super()._insert_events(c, stored_events, **kwargs)
        if returning:
            append(c, self.chain_sql, _rows(stored_events, returning))
        return returning


# ---- sealing a store made before the chain ---------------------------------------------------


def seal(recorder: Any, batch: int = SEAL_BATCH) -> Iterator[int]:
    """Chain the events that have no chain row yet, `batch` at a time, each batch in a
    transaction of its own holding the write lock; yields how many each batch chained. Stopped
    part way, it resumes where it was on the next run (or at the next write)."""
    sql = recorder.chain_sql
    latest: dict[tuple[str, int], bytes] = {}
    while True:
        done = _seal_batch(recorder, sql, batch, latest)
        if not done:
            return
        yield done
        if len(latest) > SEAL_HELD:
            latest.clear()


def _seal_batch(recorder: Any, sql: ChainSQL, batch: int, latest: dict[Any, bytes]) -> int:
    if hasattr(recorder, "_lock_table"):  # (PostgreSQL: ehqa.chain_pg)
        with recorder.datastore.transaction(commit=True) as curs:
            recorder._lock_table(curs)
            return _seal_in(curs, sql, batch, latest)
    with recorder.datastore.transaction(commit=True) as c:
        c.execute(f"DELETE FROM {CHAIN_TABLE} WHERE 0")  # (takes the write lock first)
        return _seal_in(c, sql, batch, latest)


def _seal_in(cursor: Any, sql: ChainSQL, batch: int, latest: dict[Any, bytes]) -> int:
    head_id, head_log = _head(cursor, sql)
    cursor.execute(sql.max_event)
    last = _values(cursor.fetchone())[0]
    if last is None or int(last) <= head_id:
        return 0
    rows = _unchained(cursor, sql, head_id, int(last) + 1, batch)
    if rows:
        _write(cursor, sql, rows, head_log, latest)
    return len(rows)
