"""The store's files as bytes, read past the database: what someone holding a copy of the files
(not the application's keys) could read.

SQLite: the database file and its write-ahead log. PostgreSQL: after a CHECKPOINT (so that
every change is in the files), the relation file of every table, index and TOAST table of the
store's schema, read from the server's data directory (`pg_relation_filepath`); where that is
not readable, the same relations' pages through `pageinspect`; where neither is possible the
test is skipped, saying why.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest


def raw_bytes(url: str) -> bytes:
    if not url.startswith("postgresql://"):
        return b"".join(
            Path(path).read_bytes() for path in (url, url + "-wal") if os.path.exists(path)
        )
    return _postgres(url)


def _postgres(url: str) -> bytes:
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    server = url.split("?", 1)[0]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        where = conn.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
        relations = conn.execute(
            "SELECT c.oid, c.relname, pg_relation_filepath(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
            " AND c.relkind IN ('r', 'i', 't')"
            " UNION SELECT t.oid, t.relname, pg_relation_filepath(t.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class t"
            " ON t.oid = c.reltoastrelid WHERE n.nspname = %s",
            (schema, schema),
        ).fetchall()
        assert any(name == "ehqa_child_keys" for _, name, _ in relations)
        files = [Path(where) / path for _, _, path in relations]
        if all(os.access(file, os.R_OK) or not file.exists() for file in files):
            return b"".join(_segments(file) for file in files)
        return _pages(conn, [oid for oid, _, _ in relations])


def _segments(file: Path) -> bytes:
    """A relation's file and its 1 GB segments (`.1`, `.2` ...)."""
    found, number, part = b"", 0, file
    while part.exists():
        found += part.read_bytes()
        number += 1
        part = file.with_name(f"{file.name}.{number}")
    return found


def _pages(conn: psycopg.Connection, oids: list[int]) -> bytes:
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    except psycopg.Error as error:
        pytest.skip(f"the relation files are not readable and pageinspect is not there: {error}")
    found = b""
    for oid in oids:
        name = conn.execute("SELECT %s::regclass::text", (oid,)).fetchone()[0]  # type: ignore[index]
        size = conn.execute("SELECT pg_relation_size(%s)", (oid,)).fetchone()[0]  # type: ignore[index]
        for page in range(size // 8192):
            found += conn.execute("SELECT get_raw_page(%s, %s)", (name, page)).fetchone()[0]  # type: ignore[index]
    return found
