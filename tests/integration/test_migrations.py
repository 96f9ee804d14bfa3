"""Migrations of the tables that are not views, on both stores: a store made by the previous
release (fc852b6, before migrations) or by an older one is adopted with every row kept, an empty
store gets every table, a second run applies nothing, and processes starting at once agree."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa import migrate as migrations
from ehqa.api import create_app
from ehqa.application import EhqaApplication
from ehqa.auth import AccessLog, TokenBook, Unauthenticated
from ehqa.clock import fixed
from ehqa.idempotency import Answer, IdempotencyKeys, fingerprint
from ehqa.migrate import migrate, status
from ehqa.services import Services, open_views
from ehqa.store import postgres_conninfo, store_env
from schedulers.delivery import JsonLinesSink

TODAY = date(2025, 11, 20)
FIRST = "0001_service_tables"
EVERY = [FIRST, "0002_child_keys"]  # every migration, in order
MIGRATED = ("ehqa_tokens", "ehqa_access_log", "ehqa_idempotency", "ehqa_deliveries")

# --- The previous release's DDL, frozen as it was at fc852b6 -------------------------------
# ehqa/auth.py SERVICE_TABLES (created by Services on start-up), the index upgrade_tokens made
# (on the first TokenBook), ehqa/idempotency.py TABLE (on the first IdempotencyKeys: an HTTP
# server), and ehqa_deliveries from projections/db.py SCHEMA (with the views; never dropped).
FC852B6 = [
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
    """CREATE TABLE IF NOT EXISTS ehqa_access_log (
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        action TEXT NOT NULL,
        episode TEXT,
        subject TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_access_log_episode ON ehqa_access_log (episode, at)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ehqa_tokens_id ON ehqa_tokens (id)",
    """CREATE TABLE IF NOT EXISTS ehqa_idempotency (
    principal TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    started_at TEXT,
    PRIMARY KEY (principal, key)
)""",
    """CREATE TABLE IF NOT EXISTS ehqa_deliveries (
        sink TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        delivered_at TEXT,
        last_error TEXT,
        PRIMARY KEY (sink, alert_id)
    )""",
]
# The shapes before the columns added on start-up (f2d4ee9: tokens without id, expiry and last
# use; the access log without subject; idempotency keys without a lease), which fc852b6 upgraded
# with ensure_columns and upgrade_tokens.
F2D4EE9 = [
    """CREATE TABLE IF NOT EXISTS ehqa_tokens (
        token_hash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS ehqa_access_log (
        at TEXT NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        agency TEXT,
        action TEXT NOT NULL,
        episode TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ehqa_access_log_episode ON ehqa_access_log (episode, at)",
    """CREATE TABLE IF NOT EXISTS ehqa_idempotency (
        principal TEXT NOT NULL,
        key TEXT NOT NULL,
        request TEXT NOT NULL,
        status INTEGER,
        body TEXT,
        PRIMARY KEY (principal, key)
    )""",
    FC852B6[-1],  # (ehqa_deliveries has not changed since alerts were delivered)
]
# --------------------------------------------------------------------------------------------

SINK = "file:{tmp}/alerts.jsonl"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def old_rows(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """A row of every kind in every table, as the previous release wrote them."""
    sink = SINK.format(tmp=tmp)
    return {
        "ehqa_tokens": [
            dict(token_hash=_hash("ehqa_admin"), name="Admin", role="admin", agency=None,
                 created_at="2025-01-02T09:00:00+00:00", revoked_at=None, id="a1b2c3d4",
                 expires_at=None, last_used_at="2025-11-19T08:00:00+00:00"),
            dict(token_hash=_hash("ehqa_school"), name="Jo", role="lead_professional",
                 agency="primary_school", created_at="2025-02-03T09:00:00+00:00",
                 revoked_at=None, id="0badf00d", expires_at="2035-02-03T00:00:00+00:00",
                 last_used_at=None),
            dict(token_hash=_hash("ehqa_gone"), name="Gone", role="coordinator", agency=None,
                 created_at="2025-03-04T09:00:00+00:00", revoked_at="2025-04-01T10:00:00+00:00",
                 id="deadbeef", expires_at=None, last_used_at=None),
        ],
        "ehqa_access_log": [
            dict(at="2025-11-19T08:00:00+00:00", who="Admin", role="admin", agency=None,
                 action="read episode", episode="EH-1", subject="token:a1b2c3d4"),
            dict(at="2025-11-19T08:01:00+00:00", who="Jo", role="lead_professional",
                 agency="primary_school", action="record consent", episode="EH-1",
                 subject="token:0badf00d"),
            dict(at="2025-11-19T08:02:00+00:00", who="Admin", role="admin", agency=None,
                 action="read access log", episode=None, subject=None),
        ],
        "ehqa_idempotency": [
            dict(principal="token:a1b2c3d4", key="k-answered", request=fingerprint("POST one"),
                 status=201, body=json.dumps({"reference": "EH-1"}),
                 started_at="2025-11-19T08:00:00+00:00"),
            dict(principal="token:a1b2c3d4", key="k-running", request=fingerprint("POST two"),
                 status=None, body=None, started_at="2025-11-19T08:03:00+00:00"),
        ],
        "ehqa_deliveries": [
            dict(sink=sink, alert_id="alert-sent", attempts=1,
                 delivered_at="2025-11-19T09:00:00+00:00", last_error=None),
            dict(sink=sink, alert_id="alert-failing", attempts=2, delivered_at=None,
                 last_error="disk full"),
        ],
    }  # fmt: skip


class Raw:
    """The store as plain SQL, `?` placeholders on both (as another release would see it)."""

    def __init__(self, url: str) -> None:
        env = store_env(url)
        self.postgres = env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        if self.postgres:
            schema = env["POSTGRES_SCHEMA"]
            self.conn: Any = psycopg.connect(
                postgres_conninfo(env), autocommit=True, options=f"-c search_path={schema}"
            )
            self.schema = schema
        else:
            import sqlite3

            self.conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.postgres:
            sql = sql.replace("%", "%%").replace("?", "%s")
        cur = self.conn.execute(sql, tuple(params))
        return list(cur.fetchall()) if cur.description else []

    def tables(self) -> set[str]:
        if self.postgres:
            rows = self.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (self.schema,),
            )
        else:
            rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}

    def columns(self, table: str) -> list[str]:
        if self.postgres:
            rows = self.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                (self.schema, table),
            )
            return [row[0] for row in rows]
        return [row[1] for row in self.execute(f"PRAGMA table_info({table})")]

    def rows(self, table: str) -> list[dict[str, Any]]:
        names = self.columns(table)
        found = self.execute(f"SELECT {', '.join(names)} FROM {table}")
        return sorted((dict(zip(names, row, strict=True)) for row in found), key=repr)

    def close(self) -> None:
        self.conn.close()


@contextmanager
def raw(url: str) -> Iterator[Raw]:
    store = Raw(url)
    try:
        yield store
    finally:
        store.close()


def make_previous_release_store(url: str, ddl: list[str], rows: dict[str, list[dict[str, Any]]],
                                tables: Sequence[str] = MIGRATED) -> None:  # fmt: skip
    """The store as a release before migrations left it: its events (an episode), its views
    (their shape is unchanged since fc852b6, VIEW_SCHEMA_VERSION 6), its service tables by the
    frozen DDL, and a row of every kind in each of them."""
    env = store_env(url)
    app = EhqaApplication(env, clock=fixed(TODAY))
    app.open_episode("EH-1", child="C-1", lead_name="Jo Bright", lead_agency="primary_school",
                     on=date(2025, 11, 3), lead_subject="token:0badf00d")  # fmt: skip
    app.close()
    open_views(env).close()
    with raw(url) as store:
        for statement in ddl:
            store.execute(statement)
        for table in tables:
            have = set(store.columns(table))
            for row in rows[table]:
                kept = {k: v for k, v in row.items() if k in have}
                marks = ", ".join("?" * len(kept))
                store.execute(
                    f"INSERT INTO {table} ({', '.join(kept)}) VALUES ({marks})", list(kept.values())
                )
        assert not {"_yoyo_migration", "yoyo_lock"} & store.tables()


def test_a_store_of_the_previous_release_keeps_every_row_and_works(
    store_url: str, tmp_path: Path
) -> None:
    rows = old_rows(tmp_path)
    make_previous_release_store(store_url, FC852B6, rows)
    services = Services(store_url, clock=fixed(TODAY))
    assert services.migrated == EVERY
    with raw(store_url) as store:
        for table in MIGRATED:
            assert store.rows(table) == sorted(rows[table], key=repr), table
    assert_the_service_works_on(services, tmp_path)
    services.close()


def test_a_store_made_before_the_columns_added_on_start_up_is_adopted(
    store_url: str, tmp_path: Path
) -> None:
    rows = old_rows(tmp_path)
    make_previous_release_store(store_url, F2D4EE9, rows)
    services = Services(store_url, clock=fixed(TODAY))
    assert services.migrated == EVERY
    added = {"ehqa_tokens": ("id", "expires_at", "last_used_at"),
             "ehqa_access_log": ("subject",), "ehqa_idempotency": ("started_at",)}  # fmt: skip
    with raw(store_url) as store:
        for table in MIGRATED:
            found = store.rows(table)
            new = added.get(table, ())
            kept = [{k: v for k, v in row.items() if k not in new} for row in found]
            assert kept == sorted(
                ({k: v for k, v in row.items() if k not in new} for row in rows[table]), key=repr
            ), table
            for row in found:  # the new columns are empty, but for each token's new id
                assert all(row[c] is None for c in new if c != "id"), (table, row)
        ids = [row["id"] for row in store.rows("ehqa_tokens")]
    assert len(set(ids)) == 3 and all(len(i) == 8 and int(i, 16) >= 0 for i in ids)
    book = TokenBook(services.views)
    by_name = {token["name"]: token["id"] for token in book.tokens()}
    assert book.principal("ehqa_admin").subject == f"token:{by_name['Admin']}"
    assert [t["last_used_at"] is not None for t in book.tokens()] == [True, False, False]
    with pytest.raises(Unauthenticated, match="revoked"):
        book.principal("ehqa_gone")
    keys = IdempotencyKeys(services.views)
    assert keys.claim("token:a1b2c3d4", "k-answered", "POST one") == Answer(
        201, {"reference": "EH-1"}
    )
    assert isinstance(keys.claim("token:a1b2c3d4", "k-running", "POST two"), str)  # (no lease)
    services.close()


def assert_the_service_works_on(services: Services, tmp: Path) -> None:
    """Tokens authenticate (over HTTP too), the access log takes new entries, a kept answer is
    replayed, and delivery goes on from where it was."""
    book = TokenBook(services.views)
    assert book.principal("ehqa_admin").subject == "token:a1b2c3d4"
    with pytest.raises(Unauthenticated, match="revoked"):
        book.principal("ehqa_gone")
    log = AccessLog(services.views)
    before = log.entries(limit=1000)
    with TestClient(create_app(services)) as http:
        answer = http.get("/episodes/EH-1", headers={"Authorization": "Bearer ehqa_school"})
        assert answer.status_code == 200, answer.text
    after = log.entries(limit=1000)
    new = [entry for entry in after if entry not in before]
    assert len(before) == 3 and len(after) == 3 + len(new)
    assert new and all(e["subject"] == "token:0badf00d" for e in new), new
    issued = book.issue("New", Role.COORDINATOR)
    assert len({t["id"] for t in book.tokens()}) == 4 and issued.id != "a1b2c3d4"

    keys = IdempotencyKeys(services.views)
    assert keys.claim("token:a1b2c3d4", "k-answered", "POST one") == Answer(
        201, {"reference": "EH-1"}
    )
    assert isinstance(keys.claim("token:a1b2c3d4", "k-new", "POST three"), str)

    with services.views.transaction() as cur:
        for alert in ("alert-sent", "alert-failing", "alert-new"):
            cur.execute(
                "INSERT INTO ehqa_outbox (alert_id, seq, body) VALUES (?, ?, ?)",
                (alert, len(alert), json.dumps({"alert_id": alert})),
            )
    sink = JsonLinesSink(tmp / "alerts.jsonl")
    assert services.deliver([sink]) == 2
    sent = [json.loads(line)["alert_id"] for line in sink.path.read_text().splitlines()]
    assert sorted(sent) == ["alert-failing", "alert-new"]
    attempts = dict(services.views.query("SELECT alert_id, attempts FROM ehqa_deliveries"))
    assert attempts == {"alert-sent": 1, "alert-failing": 3, "alert-new": 1}


def test_a_store_the_previous_release_opened_only_from_the_command_line(
    store_url: str, tmp_path: Path
) -> None:
    """No HTTP server, no token command: no idempotency table, no token-id index yet."""
    rows = old_rows(tmp_path)
    cli_only = [FC852B6[0], FC852B6[1], FC852B6[2], FC852B6[5]]  # (no index, no idempotency)
    make_previous_release_store(store_url, cli_only, rows, ("ehqa_access_log", "ehqa_deliveries"))
    services = Services(store_url, clock=fixed(TODAY))
    assert services.migrated == EVERY
    with raw(store_url) as store:
        assert set(MIGRATED) <= store.tables()
        assert store.rows("ehqa_access_log") == sorted(rows["ehqa_access_log"], key=repr)
        assert store.rows("ehqa_deliveries") == sorted(rows["ehqa_deliveries"], key=repr)
        assert store.rows("ehqa_tokens") == store.rows("ehqa_idempotency") == []
    services.close()


def test_an_empty_store_gets_every_table_and_a_second_run_applies_nothing(store_url: str) -> None:
    assert status(store_url) == migrations.MigrationStatus(applied=[], pending=EVERY)
    assert migrate(store_url) == EVERY
    assert migrate(store_url) == []
    assert status(store_url) == migrations.MigrationStatus(applied=EVERY, pending=[])
    with raw(store_url) as store:
        assert set(MIGRATED) | {"_yoyo_migration", "yoyo_lock"} <= store.tables()
        assert store.columns("ehqa_tokens") == [
            "token_hash", "name", "role", "agency", "created_at", "revoked_at", "id",
            "expires_at", "last_used_at",
        ]  # fmt: skip
        assert store.columns("ehqa_access_log")[-1] == "subject"
        assert "started_at" in store.columns("ehqa_idempotency")
        if store.postgres:  # yoyo's bookkeeping is in the URL's schema, nothing in public
            public = store.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                " AND (table_name LIKE '%yoyo%' OR table_name LIKE 'ehqa%')"
            )
            assert public == []
    services = Services(store_url, clock=fixed(TODAY))
    assert services.migrated == []
    services.close()


def test_a_view_rebuild_keeps_the_migrated_tables(store_url: str, tmp_path: Path) -> None:
    """Opening views of another shape drops and rebuilds the views (and their tracking and
    dead letters); the tables the migrations own keep every row."""
    rows = old_rows(tmp_path)
    make_previous_release_store(store_url, FC852B6, rows)
    Services(store_url, clock=fixed(TODAY)).close()
    with raw(store_url) as store:
        store.execute("UPDATE ehqa_view_schema SET version = -1")
        store.execute("INSERT INTO ehqa_outbox (alert_id, seq, body) VALUES ('x', 1, '{}')")
    services = Services(store_url, clock=fixed(TODAY))
    assert services.migrated == []
    assert services.views.query("SELECT COUNT(*) FROM ehqa_outbox") == [(0,)]  # (a view)
    with raw(store_url) as store:
        for table in MIGRATED:
            assert store.rows(table) == sorted(rows[table], key=repr), table
    services.close()


def test_processes_starting_at_once_migrate_once(store_url: str, tmp_path: Path) -> None:
    rows = old_rows(tmp_path)
    make_previous_release_store(store_url, F2D4EE9, rows)
    go = tmp_path / "go"
    script = (
        "import sys, time, json, pathlib\n"
        "from ehqa.migrate import migrate\n"
        "while not pathlib.Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "print(json.dumps(migrate(sys.argv[1])))\n"
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, store_url, str(go)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]  # fmt: skip
    time.sleep(2)  # (each has imported ehqa and waits)
    go.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(results) == [[], [], EVERY]
    with raw(store_url) as store:
        applied = store.execute("SELECT operation FROM _yoyo_log")
        assert applied == [("apply",)] * len(EVERY)
        ids = {row["id"] for row in store.rows("ehqa_tokens")}
        assert len(ids) == 3 and None not in ids
        assert store.execute("SELECT COUNT(*) FROM yoyo_lock") == [(0,)]


def test_a_lock_left_by_a_process_that_died_is_broken(
    store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with migrations._backend(store_env(store_url), init=True):  # (makes yoyo_lock)
        pass
    with raw(store_url) as store:
        store.execute(
            "INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, ?, 999999)",
            (datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None),),
        )
    monkeypatch.setattr(migrations, "LOCK_WAIT", 0.5)
    assert migrate(store_url) == EVERY
    assert "breaking the migration lock left by a process that died" in caplog.text
    with raw(store_url) as store:
        assert store.execute("SELECT COUNT(*) FROM yoyo_lock") == [(0,)]


def test_an_in_memory_store_has_the_tables_and_refuses_a_migrate_command() -> None:
    services = Services("memory:", clock=fixed(TODAY))
    assert services.migrated == EVERY
    book = TokenBook(services.views)
    token = book.create("Admin", Role.ADMIN)
    assert book.principal(token).name == "Admin"
    services.close()
    with pytest.raises(ValueError, match="in-memory"):
        migrate("memory:")


def test_a_migration_the_database_refuses_is_one_line_naming_its_reason(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database error while migrating (a missing grant, a read-only file, a lock never
    released) stops start-up with the store's one-line error, not a traceback of the tool's."""
    import sqlite3

    from ehqa import migrate as migrate_module
    from ehqa.services import Services
    from ehqa.store import StoreOpenError

    def refused(env: dict[str, str]) -> list[str]:
        raise sqlite3.OperationalError("attempt to write a readonly database\nmore detail")

    monkeypatch.setattr(migrate_module, "_migrate_store", refused)
    with pytest.raises(StoreOpenError) as caught:
        Services(store_url)
    message = str(caught.value)
    assert "migrating its service tables failed: attempt to write a readonly database" in message
    assert "\n" not in message
