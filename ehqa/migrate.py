"""Migrations for the tables that are not views: they hold what the event log cannot give back.

API tokens, the access log, idempotency keys and the alert deliveries are kept whatever happens
to the views (which are dropped and rebuilt from the log when their shape changes, by
`VIEW_SCHEMA_VERSION` in projections/db.py). Their shape is changed only by the migrations in
ehqa/migrations/ (yoyo-migrations), run on every start-up by `Services`, or by `ehqa migrate`.

Two processes starting at once: each first takes a lock that ends with its process (a
PostgreSQL advisory lock for the store's schema, or a lock file beside the SQLite file), then
yoyo's own lock (a row in `yoyo_lock`). The first applies what is pending; the second then finds
nothing to apply. A `yoyo_lock` row that outlives the wait belongs to a process that died
migrating (every ehqa process holds the first lock before taking it): it is broken and taken.
yoyo's bookkeeping tables (`_yoyo_migration`, `_yoyo_log`, `_yoyo_version`, `yoyo_lock`) live
beside the tables they describe: in the URL's `?schema=NAME` on PostgreSQL.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import filelock
import psycopg
from yoyo import read_migrations
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.backends.core.sqlite3 import SQLiteBackend
from yoyo.connections import DatabaseURI
from yoyo.exceptions import LockTimeout
from yoyo.migrations import MigrationList, default_migration_table

from ehqa.store import StoreOpenError, StoreURLError, check_store, postgres_conninfo, store_env

log = logging.getLogger("ehqa.migrate")

MIGRATIONS = "package:ehqa:migrations"
MIGRATE_LOCK = 0x65687164  # "ehqd": with the schema's hash, one migrator per schema
LOCK_WAIT = 10.0  # seconds to wait for yoyo's lock before taking it as left by a dead process
SQLITE_WAIT = 30.0  # seconds an SQLite statement waits for another process's write


@dataclass(frozen=True)
class MigrationStatus:
    applied: list[str]  # in the order they were applied (an id this release lacks: a newer one's)
    pending: list[str]  # in the order they would be applied


def migrate(database_url: str) -> list[str]:
    """Apply the migrations the store lacks; the ids applied (none when it is up to date)."""
    env = store_env(database_url)
    _refuse_memory(database_url, env)
    check_store(database_url, env)
    return migrate_store(env)


def status(database_url: str) -> MigrationStatus:
    """Which migrations the store has and which it lacks. Reads only."""
    env = store_env(database_url)
    _refuse_memory(database_url, env)
    check_store(database_url, env)
    migrations = _migrations()
    with _backend(env, init=False) as backend:
        if not _has_bookkeeping(backend):
            return MigrationStatus([], [m.id for m in migrations])
        applied = backend.execute(
            f"SELECT migration_id FROM {backend.migration_table_quoted} ORDER BY applied_at_utc"
        ).fetchall()
        pending = backend.to_apply(migrations)
    return MigrationStatus([row[0] for row in applied], [m.id for m in pending])


class MigrationError(StoreOpenError):
    """The store was reached but could not be migrated: one line naming the database's reason."""


def migrate_store(env: dict[str, str]) -> list[str]:
    """`migrate` for a store already checked (`check_store`), by its settings (`store_env`).
    An SQLite store may be a shared in-memory database: SQLITE_DBNAME `file:NAME?mode=memory&
    cache=shared`, kept alive by a connection of the caller's. A database error while migrating
    (a missing grant, a read-only file, a lock never released) is a MigrationError."""
    try:
        return _migrate_store(env)
    except (sqlite3.Error, psycopg.Error, LockTimeout, filelock.Timeout) as error:
        where = env.get("SQLITE_DBNAME") or env.get("POSTGRES_DBNAME", "?")
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MigrationError(where, f"migrating its service tables failed: {cause}") from error


def _migrate_store(env: dict[str, str]) -> list[str]:
    migrations = _migrations()
    with _backend(env, init=False) as backend:  # up to date: found by one read, without a lock
        if {m.id for m in migrations} <= _applied_ids(backend):
            return []
    with _process_lock(env), _backend(env, init=True) as backend:
        try:
            return _apply(backend, migrations)
        except LockTimeout:  # (the lock row's process died: none of ours is migrating now)
            held = backend.execute(f"SELECT pid, ctime FROM {backend.lock_table_quoted}").fetchall()
            log.warning("breaking the migration lock left by a process that died: %s", held)
            backend.break_lock()
            return _apply(backend, migrations)


def _apply(backend: Any, migrations: MigrationList) -> list[str]:
    with backend.lock(timeout=LOCK_WAIT):
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    for migration in pending:
        log.info("applied migration %s", migration.id)
    return [m.id for m in pending]


def _migrations() -> MigrationList:
    return read_migrations(MIGRATIONS)


def _refuse_memory(url: str, env: dict[str, str]) -> None:
    if env["PERSISTENCE_MODULE"] == "eventsourcing.popo":
        raise StoreURLError(f"{url!r} is an in-memory store: it is migrated as it is opened")


def _applied_ids(backend: Any) -> set[str]:
    try:
        rows = backend.execute(f"SELECT migration_id FROM {backend.migration_table_quoted}")
    except backend.DatabaseError:  # (no bookkeeping yet; autocommit: nothing to roll back)
        return set()
    return {row[0] for row in rows.fetchall()}


def _has_bookkeeping(backend: Any) -> bool:
    tables = set(backend.list_tables())
    return {backend.migration_table, backend.version_table} <= tables


class _SQLite(SQLiteBackend):  # type: ignore[misc]
    """yoyo's SQLite backend as ehqa opens the file: no shared cache (whose table locks do not
    wait), a 30 s wait for other writers, transactions that write from their start, and a URI
    only for a shared in-memory database."""

    def connect(self, dburi: DatabaseURI) -> sqlite3.Connection:
        conn = sqlite3.connect(
            dburi.database,
            timeout=SQLITE_WAIT,
            uri=dburi.database.startswith("file:") and "mode=memory" in dburi.database,
            detect_types=sqlite3.PARSE_DECLTYPES,
        )
        conn.isolation_level = None
        return conn

    def begin(self) -> None:
        """Take the write lock at once (waiting for other writers): a transaction that read
        first and writes later would fail at once if another process wrote in between."""
        self.execute("BEGIN IMMEDIATE")
        self._in_transaction = True


def _uri(env: dict[str, str]) -> DatabaseURI:
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        return DatabaseURI("sqlite", None, None, None, None, env["SQLITE_DBNAME"], {})
    if module == "eventsourcing.postgres":
        args = {"connect_timeout": env.get("POSTGRES_CONNECT_TIMEOUT", "10")}
        if env.get("POSTGRES_SCHEMA"):
            args["schema"] = env["POSTGRES_SCHEMA"]  # yoyo sets the search_path to it
        return DatabaseURI(
            "postgresql+psycopg",
            env["POSTGRES_USER"],
            env.get("POSTGRES_PASSWORD") or None,
            env["POSTGRES_HOST"],
            int(env["POSTGRES_PORT"]),
            env["POSTGRES_DBNAME"],
            args,
        )
    raise StoreURLError(f"no migrations for a {module} store")


@contextmanager
def _backend(env: dict[str, str], *, init: bool) -> Iterator[Any]:
    uri = _uri(env)
    cls = _SQLite if uri.scheme == "sqlite" else PostgresqlPsycopgBackend
    with cls(uri, default_migration_table) as backend:  # (closes the connection at the end)
        if init:
            backend.init_database()  # (yoyo_lock, and whether DDL is transactional)
        yield backend


@contextmanager
def _process_lock(env: dict[str, str]) -> Iterator[None]:
    """A lock released when its process ends, however it ends."""
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        key = (MIGRATE_LOCK, env.get("POSTGRES_SCHEMA", ""))
        with psycopg.connect(postgres_conninfo(env), autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s::int, hashtext(%s))", key)
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s::int, hashtext(%s))", key)
        return
    path = env["SQLITE_DBNAME"]
    if path.startswith("file:"):  # in memory: this process alone can open it
        yield
        return
    with filelock.FileLock(path + ".migrate.lock", mode=0o600):  # beside the file: owner only
        yield
