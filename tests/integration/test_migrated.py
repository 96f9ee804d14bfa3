"""The start-up check that skips yoyo agrees with yoyo: the same migration ids, and an SQLite
store is up to date exactly when yoyo has nothing to apply to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ehqa import migrate
from ehqa.migrated import migration_ids, up_to_date
from ehqa.store import store_env


def test_the_migration_ids_are_yoyos() -> None:
    assert migration_ids() == {m.id for m in migrate._migrations()}
    assert migration_ids()


def test_an_sqlite_store_is_up_to_date_only_once_every_migration_is_applied(tmp_path: Path) -> None:
    url = str(tmp_path / "ehqa.db")
    env = store_env(url)
    assert not up_to_date(env)  # (no file yet)
    sqlite3.connect(url).close()
    assert not up_to_date(env)  # (no bookkeeping table)
    assert migrate.migrate(url)  # applies them all
    assert up_to_date(env)
    with sqlite3.connect(url) as conn:
        (last,) = sorted(migration_ids())[-1:]
        conn.execute("DELETE FROM _yoyo_migration WHERE migration_id = ?", (last,))
    assert not up_to_date(env)
    assert migrate.status(url).pending == [last]


def test_postgresql_is_left_to_yoyo() -> None:
    assert not up_to_date(store_env("postgresql://postgres@127.0.0.1:1/none"))
