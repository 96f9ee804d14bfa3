"""Where the read models live: tables beside the event store, on SQLite or PostgreSQL.

SQL here is written once, with `?` placeholders and dates as ISO text (which sort as dates);
the PostgreSQL connection rewrites the placeholders. A transaction is the unit in which a view
update and its tracking record commit together.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeAlias

from projections.cursors import (
    ROWS_A_STATEMENT,
    VALUES_A_STATEMENT,
    Cursor,
    PgCursor,
    SQLiteCursor,
    pg_sql,
)

__all__ = ["ROWS_A_STATEMENT", "VALUES_A_STATEMENT", "Cursor", "PostgresViews", "SQLiteViews",
           "ViewDatabase", "secondary_indexes"]  # fmt: skip

Rows: TypeAlias = list[tuple[Any, ...]]
# PostgreSQL: room left in each page of a view whose rows are updated again and again (a child's
# row, as its episodes open and close), so that an update writes the row's new version in its
# own page, with no new index entry (a "HOT" update: 25,000 such updates took a third less).
FILL_FACTORS = {"ehqa_children": 70}
# PostgreSQL: columns no query filters, joins or sorts on (what is shown, as text or JSON), of
# which ANALYZE keeps no statistics: sampling them was half the cost of analysing the timeline
# after a rebuild.
SHOWN_ONLY = {"ehqa_timeline": ("label", "body"), "ehqa_clocks": ("exceptions",),
              "ehqa_outbox": ("body",)}  # fmt: skip

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS ehqa_tracking (
        projection TEXT PRIMARY KEY,
        position BIGINT NOT NULL
    )""",
    # Events a view could not decode or apply, and skipped (one row per view and event).
    """CREATE TABLE IF NOT EXISTS ehqa_dead_letters (
        projection TEXT NOT NULL,
        notification_id BIGINT NOT NULL,
        originator_id TEXT,
        originator_version INTEGER,
        topic TEXT,
        reason TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (projection, notification_id)
    )""",
    """CREATE TABLE IF NOT EXISTS ehqa_episodes (
        reference TEXT PRIMARY KEY,
        child TEXT NOT NULL,
        state TEXT NOT NULL,
        lead_name TEXT,
        lead_agency TEXT,
        lead_subject TEXT,
        policy TEXT NOT NULL,
        origin TEXT NOT NULL,
        pre_birth INTEGER NOT NULL,
        opened_on TEXT NOT NULL,
        consent_agencies TEXT NOT NULL,
        closed_on TEXT,
        closed_reason TEXT,
        closure_summary TEXT,
        version INTEGER NOT NULL,
        opened_seq BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_episodes_open_lead ON ehqa_episodes (lead_name)"
    " WHERE closed_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_episodes_order ON ehqa_episodes (opened_seq)",
    # "My caseload": a lead professional's open episodes, by their stable subject
    "CREATE INDEX IF NOT EXISTS ehqa_episodes_open_lead_subject ON ehqa_episodes (lead_subject)"
    " WHERE closed_on IS NULL",
    # The values a filter may name (the lead agencies and lead professionals there are).
    "CREATE INDEX IF NOT EXISTS ehqa_episodes_lead_agency ON ehqa_episodes (lead_agency)",
    "CREATE INDEX IF NOT EXISTS ehqa_episodes_lead_name ON ehqa_episodes (lead_name)",
    """CREATE TABLE IF NOT EXISTS ehqa_clocks (
        reference TEXT NOT NULL,
        clock TEXT NOT NULL,
        occurrence INTEGER NOT NULL,
        started_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        stopped_on TEXT,
        closed_on TEXT,
        exceptions TEXT NOT NULL,
        lead_name TEXT,
        lead_agency TEXT,
        policy TEXT NOT NULL,
        seq BIGINT NOT NULL,
        next_alert_on TEXT,
        next_rung TEXT,
        PRIMARY KEY (reference, clock, occurrence)
    )""",
    # The sweep's question: which running clocks have an alert rung fallen due, not raised?
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_next_alert ON ehqa_clocks (next_alert_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL AND next_alert_on IS NOT NULL",
    # "Running" clocks (neither stopped nor closed) answer "overdue as at today" and "due in
    # the next N days"; each filter has its own partial index ordered by due date.
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_running ON ehqa_clocks (due_on, started_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_running_agency ON ehqa_clocks (lead_agency, due_on, started_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_running_lead ON ehqa_clocks (lead_name, due_on, started_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_running_policy ON ehqa_clocks (policy, due_on, started_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_running_clock ON ehqa_clocks (clock, due_on, started_on)"
    " WHERE stopped_on IS NULL AND closed_on IS NULL",
    # A past as-at date also needs the clocks that were still running then.
    # (Partial, so the planner never prefers them for "stopped_on IS NULL".)
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_stopped ON ehqa_clocks (stopped_on)"
    " WHERE stopped_on IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_clocks_closed ON ehqa_clocks (closed_on)"
    " WHERE closed_on IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS ehqa_timeline (
        episode_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        on_date TEXT NOT NULL,
        event TEXT NOT NULL,
        label TEXT NOT NULL,
        body TEXT NOT NULL
    )""",
    # Its key: an index of its own (not a primary key), which a rebuild drops and builds once at
    # its end, as it does the others; a row is appended to the table at the end, but goes into
    # the key wherever its episode is: keeping a key larger than the page cache row by row made
    # the inserts and commits of a 50,000-episode rebuild on SQLite 5.4 to 5.9 s, against 4.2 s
    # with the key built at the end (profiled runs).
    "CREATE UNIQUE INDEX IF NOT EXISTS ehqa_timeline_key ON ehqa_timeline (episode_id, version)",
    """CREATE TABLE IF NOT EXISTS ehqa_alerts (
        alert_id TEXT PRIMARY KEY,
        reference TEXT NOT NULL,
        clock TEXT NOT NULL,
        occurrence INTEGER NOT NULL,
        rung TEXT NOT NULL,
        fell_due_on TEXT NOT NULL,
        raised_on TEXT NOT NULL,
        recipients TEXT NOT NULL,
        acknowledged_by TEXT,
        acknowledged_on TEXT,
        cleared_on TEXT,
        lead_name TEXT,
        lead_agency TEXT,
        lead_subject TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_alerts_open ON ehqa_alerts (raised_on) WHERE cleared_on IS NULL",
    "CREATE INDEX IF NOT EXISTS ehqa_alerts_episode ON ehqa_alerts (reference)",
    """CREATE TABLE IF NOT EXISTS ehqa_outbox (
        alert_id TEXT PRIMARY KEY,
        seq BIGINT NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_outbox_seq ON ehqa_outbox (seq)",
    """CREATE TABLE IF NOT EXISTS ehqa_audits (
        reference TEXT PRIMARY KEY,
        episode TEXT NOT NULL,
        scheme TEXT NOT NULL,
        auditor TEXT NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        assigned_on TEXT NOT NULL,
        completed_on TEXT,
        grade TEXT,
        scores TEXT NOT NULL,
        flags TEXT NOT NULL,
        concerns INTEGER NOT NULL,
        seq BIGINT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ehqa_audit_actions (
        audit TEXT NOT NULL,
        number TEXT NOT NULL,
        who TEXT NOT NULL,
        what TEXT NOT NULL,
        issued_on TEXT NOT NULL,
        due_on TEXT NOT NULL,
        completed_on TEXT,
        PRIMARY KEY (audit, number)
    )""",
    """CREATE TABLE IF NOT EXISTS ehqa_children (
        record_id TEXT PRIMARY KEY,
        child TEXT NOT NULL,
        open_episode TEXT,
        episodes TEXT NOT NULL
    )""",
]

# Views are disposable: when their tables change shape, they are dropped and rebuilt from the log.
# (The tables that hold what the log cannot give back, such as the alert deliveries, API tokens
# and the access log, are not here: migrations in ehqa/migrations make and change them.)
VIEW_SCHEMA_VERSION = 7
META = [
    "CREATE TABLE IF NOT EXISTS ehqa_view_schema (version INTEGER NOT NULL)",
]

VIEW_TABLES = [
    "ehqa_episodes", "ehqa_clocks", "ehqa_alerts", "ehqa_timeline", "ehqa_children", "ehqa_outbox",
    "ehqa_audits", "ehqa_audit_actions",
]  # fmt: skip


def secondary_indexes(tables: Sequence[str]) -> list[tuple[str, str]]:
    """(name, CREATE statement) of each index of `tables` beyond their primary keys.

    A rebuild drops them and creates them again at the end: building an index once is far
    cheaper than keeping it up to date row by row. (If a rebuild dies half-way, opening the
    views again creates them, as it does on every start.)
    """
    found = []
    for statement in SCHEMA:
        match = re.match(r"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\w+) ON (\w+)", statement)
        if match and match.group(2) in tables:
            found.append((match.group(1), statement))
    return found


class ViewDatabase(Protocol):
    def transaction(self) -> Any: ...
    def analyze(self, tables: Sequence[str]) -> None: ...
    def query(self, sql: str, params: Sequence[Any] = (), binary: bool = False) -> Rows: ...
    def close(self) -> None: ...


def _tune(cur: Cursor) -> None:
    """Set FILL_FACTORS and SHOWN_ONLY on PostgreSQL's view tables (made anew by `_prepare`)."""
    for table, percent in FILL_FACTORS.items():
        cur.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")
    for table, columns in SHOWN_ONLY.items():
        for column in columns:
            cur.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 0")


def _prepare(cur: Cursor) -> bool:
    """Create the view tables; drop and recreate them (so they rebuild) if their shape changed.
    Returns whether they were made anew."""
    for statement in META:
        cur.execute(statement)
    cur.execute("SELECT version FROM ehqa_view_schema")
    row = cur.fetchone()
    made = row is None or row[0] != VIEW_SCHEMA_VERSION
    if made:
        for table in (*VIEW_TABLES, "ehqa_tracking", "ehqa_dead_letters"):
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute("DELETE FROM ehqa_view_schema")
        cur.execute("INSERT INTO ehqa_view_schema (version) VALUES (?)", (VIEW_SCHEMA_VERSION,))
    for statement in SCHEMA:
        cur.execute(statement)
    return made


class SQLiteViews:
    """Views in the same SQLite file as the events (WAL, so readers never wait for writers), or
    in a shared in-memory database (`file:NAME?mode=memory&cache=shared`).

    Each thread has a connection of its own (an SQLite connection is not shared between
    threads): a server's requests read at once, each from its own snapshot, and only a
    transaction takes the write lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._memory = path.startswith("file:") and "mode=memory" in path
        self._local = threading.local()
        self._all: weakref.WeakSet[_Owned] = weakref.WeakSet()
        with self.transaction() as cur:
            _prepare(cur)

    @property
    def _conn(self) -> sqlite3.Connection:
        owned: _Owned | None = getattr(self._local, "owned", None)
        if owned is None:
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False,
                uri=self._memory,
            )  # fmt: skip
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            owned = self._local.owned = _Owned(conn)
            self._all.add(owned)
        return owned.conn

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        cur = SQLiteCursor(self._conn.cursor())
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = (), binary: bool = False) -> Rows:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics (after a rebuild the tables look nothing like before)."""
        for table in tables:
            self._conn.execute(f"ANALYZE {table}")

    def close(self) -> None:
        for owned in list(self._all):
            owned.conn.close()
        self._local = threading.local()


class _Owned:
    """A thread's connection: closed when the thread ends (its thread-local value goes)."""

    __slots__ = ("__weakref__", "conn")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __del__(self) -> None:
        self.conn.close()


class PostgresViews:
    """Views in the same PostgreSQL database (and schema) as the events, through a small pool of
    connections (psycopg_pool): each query or transaction takes one for its own time only, so a
    server's threads read at once."""

    def __init__(self, conninfo: str, schema: str | None = None, max_size: int = 8) -> None:
        options = f"-c search_path={schema}" if schema else ""
        from psycopg_pool import ConnectionPool

        self._pool = ConnectionPool(
            conninfo, kwargs={"autocommit": True, "options": options}, min_size=1,
            max_size=max_size, open=True, name="ehqa-views",
        )  # fmt: skip
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (0x65687162,))
            if _prepare(PgCursor(cur)):  # (the table options go with the shape: set once)
                _tune(PgCursor(cur))

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            yield PgCursor(cur)

    def analyze(self, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics (after a rebuild the tables look nothing like before)."""
        with self._pool.connection() as conn:
            for table in tables:
                conn.execute(f"ANALYZE {table}")

    def query(self, sql: str, params: Sequence[Any] = (), binary: bool = False) -> Rows:
        with self._pool.connection() as conn, conn.cursor(binary=binary) as cur:  # (bytea faster)
            cur.execute(pg_sql(sql), tuple(params))
            return cur.fetchall()

    def close(self) -> None:
        self._pool.close()
