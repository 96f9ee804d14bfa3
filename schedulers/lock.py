"""One sweeper at a time across processes: a PostgreSQL advisory lock, or a lock file beside
an SQLite database. Taking it never waits: a process that cannot take it skips that round."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import filelock

SWEEP_LOCK = 0x65687173  # "ehqs"


class SweepLock(Protocol):
    def hold(self) -> AbstractContextManager[bool]: ...


class PostgresSweepLock:
    """An advisory lock keyed by the store's schema as well as SWEEP_LOCK: advisory locks belong
    to a database, and councils in different schemas of one database each sweep their own."""

    def __init__(self, conninfo: str, schema: str | None = None) -> None:
        self._conninfo = conninfo
        self._schema = schema

    @contextmanager
    def hold(self) -> Iterator[bool]:
        import psycopg  # (here: an SQLite store's lock never loads it)

        key = "%s, hashtext(COALESCE(%s, current_schema()))"
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            args = (SWEEP_LOCK, self._schema)
            row = conn.execute(f"SELECT pg_try_advisory_lock({key})", args).fetchone()
            held = bool(row and row[0])
            try:
                yield held
            finally:
                if held:
                    conn.execute(f"SELECT pg_advisory_unlock({key})", args)


class FileSweepLock:
    def __init__(self, path: str) -> None:
        self._lock = filelock.FileLock(path, mode=0o600)  # beside the database: owner only

    @contextmanager
    def hold(self) -> Iterator[bool]:
        try:
            self._lock.acquire(timeout=0)
        except filelock.Timeout:
            yield False
            return
        try:
            yield True
        finally:
            self._lock.release()
