"""The tables that are not views, adopted as the releases before migrations made them.

Those releases created each table with CREATE TABLE IF NOT EXISTS when it was first used and
added newer columns on start-up, so a store may hold any of their shapes, or none of the tables:
this migration creates what is missing, adds the columns an older shape lacks (empty), gives each
token made before tokens had ids an id, and creates the indexes. It changes no row otherwise.

Frozen: it imports nothing of ehqa's (the code it would import changes; this must not).
"""

from __future__ import annotations

import secrets
from typing import Any

from yoyo import step

TABLES = [
    # API tokens: only a hash of each is kept (not derivable: the secrets were shown once).
    """CREATE TABLE IF NOT EXISTS ehqa_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        id TEXT,
        expires_at TEXT,
        last_used_at TEXT
    )""",
    # Who read or recorded what (reads leave no event).
    """CREATE TABLE IF NOT EXISTS ehqa_access_log (
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        action TEXT NOT NULL,
        episode TEXT,
        subject TEXT
    )""",
    # The answers kept for Idempotency-Key replays.
    """CREATE TABLE IF NOT EXISTS ehqa_idempotency (
        principal TEXT NOT NULL,
        key TEXT NOT NULL,
        request TEXT NOT NULL,
        status INTEGER,
        body TEXT,
        started_at TEXT,
        PRIMARY KEY (principal, key)
    )""",
    # Each sink's progress per alert (what has left the building cannot be replayed).
    """CREATE TABLE IF NOT EXISTS ehqa_deliveries (
        sink TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        delivered_at TEXT,
        last_error TEXT,
        PRIMARY KEY (sink, alert_id)
    )""",
]

# Columns added by releases before migrations (on start-up, as TEXT without a default).
ADDED_COLUMNS = {
    "ehqa_tokens": ["id", "expires_at", "last_used_at"],
    "ehqa_access_log": ["subject"],
    "ehqa_idempotency": ["started_at"],
}

INDEXES = [
    "CREATE UNIQUE INDEX IF NOT EXISTS ehqa_tokens_id ON ehqa_tokens (id)",
    "CREATE INDEX IF NOT EXISTS ehqa_access_log_episode ON ehqa_access_log (episode, at)",
]


def _is_postgres(conn: Any) -> bool:
    return type(conn).__module__.startswith("psycopg")


def _columns(cur: Any, table: str, postgres: bool) -> set[str]:
    if postgres:
        cur.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {row[0] for row in cur.fetchall()}
    cur.execute(f"PRAGMA table_info({table})")
    return {row[1] for row in cur.fetchall()}


def _give_tokens_ids(cur: Any, postgres: bool) -> None:
    """Each token without an id gets a short random one (its subject becomes token:<id>)."""
    mark = "%s" if postgres else "?"
    cur.execute("SELECT id FROM ehqa_tokens WHERE id IS NOT NULL")
    taken = {row[0] for row in cur.fetchall()}
    cur.execute("SELECT token_hash FROM ehqa_tokens WHERE id IS NULL ORDER BY created_at")
    for (token_hash,) in cur.fetchall():
        ident = secrets.token_hex(4)
        while ident in taken:
            ident = secrets.token_hex(4)
        taken.add(ident)
        cur.execute(
            f"UPDATE ehqa_tokens SET id = {mark} WHERE token_hash = {mark} AND id IS NULL",
            (ident, token_hash),
        )


def adopt(conn: Any) -> None:
    postgres = _is_postgres(conn)
    cur = conn.cursor()
    try:
        for statement in TABLES:
            cur.execute(statement)
        for table, columns in ADDED_COLUMNS.items():
            have = _columns(cur, table, postgres)
            for column in columns:
                if column not in have:
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")
        _give_tokens_ids(cur, postgres)
        for statement in INDEXES:
            cur.execute(statement)
    finally:
        cur.close()


steps = [step(adopt)]
