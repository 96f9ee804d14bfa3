"""One sweeper at a time across processes: a PostgreSQL advisory lock, or a lock file beside
an SQLite database. Taking it never waits: a process that cannot take it skips that round.

And one catch-up of the views at a time across processes (`CatchUpLock`), taken by a sweep
around each batch it saves and the catch-up after it, by a server's writes around the catch-up
each waits for, and by the follower: a write that meets a batch of the sweep's alerts waits for
the sweep to take them into the views, instead of doing the same work again beside it (and
losing the race to move the views' positions). Taking it waits; it is re-entrant. A sweep
beside a server takes it `paced`: after each hold it lets it be for a while.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Any, Protocol

import filelock

SWEEP_SHARE = 0.5  # of the time, at most, that a sweep beside a server holds the catch-up lock
PAUSE_MOST = 1.0  # seconds: a hold that caught up a long backlog pauses the sweep no longer
SWEEP_LOCK = 0x65687173  # "ehqs"
CATCH_UP_LOCK = 0x65687163  # "ehqc"
POLL = 0.002  # seconds between tries of a lock file held by another process


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


class CatchUpLock(Protocol):
    def held(self) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


class PostgresCatchUpLock:
    """An advisory lock (keyed by the schema, as the sweep's), taken on a connection of its own,
    kept open while this process runs (a write pays no connection for it); the threads of one
    process take turns at it first. A kept connection the server has dropped meanwhile (a
    restart, an idle timeout) is opened again once before the lock is taken; one that breaks
    while held has lost the lock with its session, and is dropped, never raising at release."""

    def __init__(self, conninfo: str, schema: str | None = None) -> None:
        self._conninfo, self._schema = conninfo, schema
        self._turn = threading.RLock()
        self._conn: Any = None
        self._depth = 0

    _KEY = "%s, hashtext(COALESCE(%s, current_schema()))"

    def _lock(self) -> None:
        import psycopg

        args = (CATCH_UP_LOCK, self._schema)
        for attempt in (1, 2):
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, keepalives=1,
                                             keepalives_idle=30, keepalives_interval=10,
                                             keepalives_count=3)  # fmt: skip
            try:
                self._conn.execute(f"SELECT pg_advisory_lock({self._KEY})", args)
                return
            except psycopg.OperationalError:
                self._drop()
                if attempt == 2:
                    raise

    def _unlock(self) -> None:
        try:
            self._conn.execute(f"SELECT pg_advisory_unlock({self._KEY})",
                               (CATCH_UP_LOCK, self._schema))  # fmt: skip
        except Exception:
            self._drop()  # (closing the session releases whatever it still held)

    def _drop(self) -> None:
        with suppress(Exception):
            self._conn.close()
        self._conn = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._turn:
            if self._depth == 0:
                self._lock()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._unlock()

    def close(self) -> None:
        if self._conn is not None:
            self._drop()


class FileCatchUpLock:
    """A lock file beside the database (filelock: re-entrant, and the threads of one process
    take turns at it first)."""

    def __init__(self, path: str) -> None:
        self._lock = filelock.FileLock(path, mode=0o600, thread_local=False)
        self._turn = threading.RLock()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._turn, self._lock.acquire(poll_interval=POLL):
            yield

    def close(self) -> None:
        pass


@contextmanager
def paced(
    held: Callable[[], AbstractContextManager[Any]],
    pause: Callable[[float], object],
    share: float = SWEEP_SHARE,
) -> Iterator[None]:
    """`held`; then, once it is let go, `pause` for as long again as it was held, times
    (1 - share) / share (at most PAUSE_MOST seconds): a sweep taking it batch after batch holds
    it at most `share` of the time, and a write that comes meanwhile mostly finds it free (else
    it waits for one batch)."""
    with held():
        started = time.monotonic()
        yield
    pause(min(PAUSE_MOST, (time.monotonic() - started) * (1 - share) / share))
