"""How the store is told that a rebuild writes in bulk, and when the log's statistics are stale.

On SQLite each batch of a rebuild writes megabytes of rows, and the connection that commits
checkpoints the write-ahead log into the database file (and syncs both) once it passes 1,000
pages (4 MB): after nearly every batch, writing the pages of the view's indexes again each time.
A rebuild lets the log grow to BULK_CHECKPOINT pages between checkpoints instead, and checkpoints
once at its end: the same commits, each as durable as before (with `synchronous=NORMAL` a commit
in WAL mode never waited for a sync), and a bounded log. Its connection's page cache grows to
BULK_CACHE_KB meanwhile (a batch reads each history by its key, page by page across the log,
and writes each view's key index in order): bounded, whatever the log's size. On PostgreSQL
nothing changes, but for how a view is emptied: a table's rows deleted all at once are left
dead in it until vacuumed (the rebuilt rows written after them, and autovacuum reading the whole
table again meanwhile), so a table the view empties whole is truncated instead (`emptying`; the
table is locked until the transaction that empties the view commits, a moment later).

A rebuild reads the log's events by topic and by aggregate, and PostgreSQL plans those reads
from the log table's statistics: stale after a bulk import, they make it read each page of one
topic by a full scan. They are refreshed (ANALYZE) when as many rows have changed since they
were taken as would make autovacuum refresh them (50 and a tenth of the table), on SQLite too
(where the log's rows are counted by their rowids: events are only ever added).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from projections.db import SQLiteViews, ViewDatabase

BULK_CHECKPOINT = 16_384  # pages (64 MB) of write-ahead log between a rebuild's checkpoints
BULK_CACHE_KB = 32_768  # SQLite's page cache while a rebuild runs (2 MB otherwise)
WHOLE_TABLE = re.compile(r"DELETE FROM (\w+)")


def emptying(db: ViewDatabase, statements: Sequence[str]) -> list[str]:
    """The statements that empty a view, a whole table's DELETE a TRUNCATE on PostgreSQL."""
    if isinstance(db, SQLiteViews):  # (SQLite deletes a whole table's rows at once already)
        return list(statements)
    return [
        f"TRUNCATE {whole.group(1)}" if (whole := WHOLE_TABLE.fullmatch(statement)) else statement
        for statement in statements
    ]


@contextmanager
def bulk_writes(db: ViewDatabase) -> Iterator[None]:
    """Checkpoint an SQLite store's write-ahead log every BULK_CHECKPOINT pages while the block
    runs (on this thread's connection, which writes the rebuild's batches), and once at its
    end."""
    if not isinstance(db, SQLiteViews):
        yield
        return
    pages = int(db.query("PRAGMA wal_autocheckpoint")[0][0])
    cache = int(db.query("PRAGMA cache_size")[0][0])
    db.query(f"PRAGMA wal_autocheckpoint = {BULK_CHECKPOINT}")
    db.query(f"PRAGMA cache_size = {-BULK_CACHE_KB}")
    try:
        yield
    finally:
        db.query(f"PRAGMA cache_size = {cache}")
        db.query(f"PRAGMA wal_autocheckpoint = {pages}")
        db.query("PRAGMA wal_checkpoint(PASSIVE)")


def analyze_log(db: ViewDatabase, table: str) -> None:
    """Refresh the planner's statistics of the log table if they are stale (see above)."""
    changed = _changed_since_analyzed(db, table)
    if changed == math.inf or changed > 50 + 0.1 * _rows_when_analyzed(db, table):
        db.analyze([table])


def _changed_since_analyzed(db: ViewDatabase, table: str) -> float:
    """Rows changed since the table's statistics were taken (infinite if they never were)."""
    if isinstance(db, SQLiteViews):  # (events are only ever added, each with the next rowid)
        if not db.query("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"):
            return math.inf
        last = db.query(f'SELECT MAX(rowid) FROM "{table}"')[0][0] or 0
        return float(last) - _rows_when_analyzed(db, table)
    found = db.query(
        "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = to_regclass(?)", (table,)
    )
    return float(found[0][0]) if found and found[0][0] is not None else math.inf


def _rows_when_analyzed(db: ViewDatabase, table: str) -> float:
    if isinstance(db, SQLiteViews):
        found = db.query("SELECT stat FROM sqlite_stat1 WHERE tbl = ? AND stat <> ''", (table,))
        return float(str(found[0][0]).split()[0]) if found else -math.inf
    found = db.query("SELECT reltuples FROM pg_class WHERE oid = to_regclass(?)", (table,))
    return max(float(found[0][0]), 0.0) if found else 0.0
