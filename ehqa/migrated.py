"""Whether an SQLite store already has every migration, found without loading yoyo.

Every start-up asks (`Services` migrates what a store lacks); a store that is up to date, the
usual case, is answered by one read of yoyo's bookkeeping table, `_yoyo_migration`, so that a
command does not pay for importing yoyo (and, through it, the PostgreSQL driver). Anything else
(a store never migrated, a migration pending, PostgreSQL) goes to `ehqa.migrate`, which uses yoyo.
"""

from __future__ import annotations

import sqlite3
from importlib import resources

PACKAGE, DIRECTORY = "ehqa", "migrations"  # ehqa.migrate.MIGRATIONS: "package:ehqa:migrations"
TABLE = "_yoyo_migration"  # yoyo's default_migration_table


def migration_ids() -> set[str]:
    """The ids of this release's migrations, named as yoyo names them (the file name without its
    extension; a `.rollback.sql` file is part of its migration, not one of its own)."""
    found = set()
    for item in resources.files(PACKAGE).joinpath(DIRECTORY).iterdir():
        name = item.name
        if not item.is_file() or name.endswith(".rollback.sql"):
            continue
        stem, dot, suffix = name.rpartition(".")
        if dot and suffix in ("py", "sql"):
            found.add(stem)
    return found


def up_to_date(env: dict[str, str]) -> bool:
    """True if the SQLite store named by `env` has every migration; False if it lacks one, or
    cannot say (not SQLite, no bookkeeping table yet, a database error): then migrate."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.sqlite":
        return False
    path = env["SQLITE_DBNAME"]
    try:
        conn = sqlite3.connect(path, timeout=30, uri=path.startswith("file:"))
        try:
            applied = {row[0] for row in conn.execute(f"SELECT migration_id FROM {TABLE}")}
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return migration_ids() <= applied
