"""Store wiring: a database URL becomes the eventsourcing persistence settings.

- a path, or `sqlite:///relative.db`, `sqlite:////absolute.db`: an SQLite file (the default);
- `postgresql://user[:password]@host[:port]/dbname[?schema=NAME]`: PostgreSQL;
- `memory:`: in-process only (for tests and experiments).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
import psycopg.conninfo

DEFAULT_DATABASE = "ehqa.db"


class StoreURLError(ValueError):
    pass


def store_env(url: str) -> dict[str, str]:
    if url in ("memory:", "memory://"):
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
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def postgres_conninfo(env: dict[str, str]) -> str:
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
    with psycopg.connect(postgres_conninfo(env), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK,))


SCHEMA_LOCK = 0x65687161  # "ehqa"
