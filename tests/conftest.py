"""Fixtures shared by every layer of tests: the two stores and an application on each.

PostgreSQL tests take the server from EHQA_TEST_POSTGRES_URL and get a schema of their own.
Without that variable they are skipped on a developer's machine and fail in CI (CI=true).
Run by several pytest-xdist workers, each worker has a database of its own on that server.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from ehqa.application import EhqaApplication
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.store import store_env
from projections.db import VIEW_TABLES

TODAY = date(2026, 1, 15)


def postgres_server_url() -> str:
    url = os.environ.get("EHQA_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("EHQA_TEST_POSTGRES_URL is not set: the PostgreSQL tests must run in CI")
        pytest.skip("EHQA_TEST_POSTGRES_URL is not set")
    return worker_database(url, os.environ.get("PYTEST_XDIST_WORKER"))


@functools.cache
def worker_database(url: str, worker: str | None) -> str:
    """The URL's own database for a run in one process; for a pytest-xdist worker, a database of
    its own beside it (test_gw0, test_gw1 ...), made when first needed. Advisory locks (one
    sweeper at a time) and LISTEN/NOTIFY channels belong to a database, not to a schema: workers
    sharing one would skip each other's sweeps and wake each other's followers."""
    if not worker:
        return url
    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/') or parts.username or 'postgres'}_{worker}"
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
            )
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database URL whose schema belongs to this test alone."""
    server = postgres_server_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{server}{'&' if '?' in server else '?'}schema={schema}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return str(tmp_path / "ehqa.db")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each contract test runs once on an SQLite file and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def app(store_url: str) -> Iterator[EhqaApplication]:
    application = EhqaApplication(store_env(store_url), clock=fixed(TODAY))
    yield application
    application.close()


@pytest.fixture
def services(store_url: str) -> Iterator[Services]:
    found = Services(store_url, clock=fixed(SIM_TODAY))
    yield found
    found.close()


SIM_TODAY = date(2026, 11, 20)


def dump_views(services: Services) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every view table, in a stable order, for comparing two builds."""
    return {
        table: sorted(services.views.query(f"SELECT * FROM {table}"), key=repr)
        for table in VIEW_TABLES
    }
