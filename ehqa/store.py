"""Store wiring: a database URL becomes the eventsourcing persistence settings.

- a path, or `sqlite:///relative.db`, `sqlite:////absolute.db`: an SQLite file (the default);
- `postgresql://user[:password]@host[:port]/dbname[?schema=NAME]`: PostgreSQL;
- `memory:` (or SQLite's own `:memory:`): in-process only (for tests and experiments).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

# (psycopg is imported by the functions that reach PostgreSQL: a command on SQLite never loads it)

DEFAULT_DATABASE = "ehqa.db"
# The application's events table as eventsourcing 9.5 names it on each store (its notification
# id: SQLite's rowid; PostgreSQL's notification_id column).
SQLITE_EVENTS = "stored_events"
POSTGRES_EVENTS = "ehqa_events"


class StoreURLError(ValueError):
    pass


class StoreOpenError(Exception):
    """The store cannot be reached or opened: one line, naming the cause (never a password)."""

    def __init__(self, url: str, cause: str) -> None:
        super().__init__(f"cannot open the store {redact(url)}: {cause}")


CHECK_TIMEOUT = 3  # seconds to wait for PostgreSQL to answer before giving up


def store_env(url: str) -> dict[str, str]:
    if url in ("memory:", "memory://", ":memory:"):  # (the last, SQLite's own name for it)
        return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    if url.startswith(("postgresql://", "postgres://")):
        return _postgres_env(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreURLError(f"database URL {url!r} names no SQLite file")
        url = path
    if "://" in url:
        raise StoreURLError(
            f"database URL {url!r} is neither a SQLite file nor postgresql://user@host:port/dbname"
        )
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(Path(url).expanduser()),
        "SQLITE_LOCK_TIMEOUT": "30",
    }


def _postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise StoreURLError(
            f"database URL {url!r} names no database (postgresql://user@host/dbname)"
        )
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": unquote(dbname),
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "10",
        "POSTGRES_LOCK_TIMEOUT": "30",
    }
    schema = parse_qs(parts.query).get("schema")
    if schema:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema[0]):
            raise StoreURLError(
                f"schema {schema[0][:80]!r} in the database URL: use letters, digits and '_'"
            )
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def postgres_conninfo(env: dict[str, str]) -> str:
    import psycopg.conninfo

    return psycopg.conninfo.make_conninfo(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        connect_timeout=env.get("POSTGRES_CONNECT_TIMEOUT", "10"),
    )


@contextmanager
def postgres_schema_lock(env: dict[str, str]) -> Iterator[None]:
    """Hold a session advisory lock while tables are created: PostgreSQL's CREATE OR REPLACE
    FUNCTION is not safe to run from several processes at once ("tuple concurrently updated")."""
    import psycopg

    with psycopg.connect(postgres_conninfo(env), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


SCHEMA_LOCK = 0x65687161  # "ehqa"


@contextmanager
def sqlite_schema_lock(database: str) -> Iterator[None]:
    """Held while an SQLite file's tables are made: an exclusive lock on a file beside it
    (owner only), the operating system's own (flock), which is what the filelock package takes
    on POSIX; taken directly, so that opening a store does not pay for importing that package."""
    import fcntl

    descriptor = os.open(database + ".schema.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # (released when the file is closed)
        yield
    finally:
        os.close(descriptor)


def redact(url: str) -> str:
    """The URL as it may be printed: a password becomes ***."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


def check_store(url: str, env: dict[str, str]) -> None:
    """Open the store once, quickly, before anything else does: an unreachable or misconfigured
    database becomes a StoreOpenError naming the database's own reason (not a long wait and a
    traceback). A new SQLite file is created readable and writable by its owner only (its -wal
    and -shm files take the same mode)."""
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.postgres":
        _check_postgres(url, env)
    elif module == "eventsourcing.sqlite":
        _check_sqlite(url, env["SQLITE_DBNAME"])


def _check_postgres(url: str, env: dict[str, str]) -> None:
    import psycopg

    conninfo = postgres_conninfo({**env, "POSTGRES_CONNECT_TIMEOUT": str(CHECK_TIMEOUT)})
    try:
        with psycopg.connect(conninfo) as conn:
            schema = env.get("POSTGRES_SCHEMA")
            if (
                schema
                and conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)
                ).fetchone()
                is None
            ):
                raise StoreOpenError(url, f'schema "{schema}" does not exist (create it first)')
    except psycopg.Error as error:
        raise StoreOpenError(url, _postgres_cause(str(error), env)) from None


def _postgres_cause(message: str, env: dict[str, str]) -> str:
    """libpq's reason, on one line: 'connection refused', 'database "x" does not exist', ..."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    cause = lines[0] if lines else "no answer"
    cause = cause.removeprefix("connection failed: ")
    if cause.startswith("connection to server at ") and " failed: " in cause:
        cause = cause.split(" failed: ", 1)[1]
    cause = cause.removeprefix("FATAL:").strip()
    if cause[:2].istitle():
        cause = cause[0].lower() + cause[1:]
    password = env.get("POSTGRES_PASSWORD")
    # (a short password would match ordinary words of the message; the server never echoes it)
    return cause.replace(password, "***") if password and len(password) >= 6 else cause


def _check_sqlite(url: str, path: str) -> None:
    where = Path(path).parent
    if not where.is_dir():
        reason = "is not a directory" if where.exists() else "does not exist"
        raise StoreOpenError(url, f"unable to open database file (directory {where} {reason})")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as error:
        raise StoreOpenError(url, f"unable to open database file ({error.strerror})") from None
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        finally:
            conn.close()
    except sqlite3.Error as error:
        hint = "" if os.access(where, os.W_OK) else f" (directory {where} is not writable)"
        raise StoreOpenError(url, f"{error}{hint}") from None
