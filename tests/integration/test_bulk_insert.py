"""SQLite's `insert_rows` (many rows to a statement) writes the rows `executemany` would."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from projections.db import ROWS_A_STATEMENT, VALUES_A_STATEMENT, SQLiteViews

COLUMNS = ("episode_id", "version", "on_date", "event", "label", "body")


def _rows(count: int) -> list[tuple[object, ...]]:
    return [(f"{n % 7:032x}", n, "2025-01-01", "ChildSeen", f"label {n}", f'{{"n": {n}}}')
            for n in range(count)]  # fmt: skip


@pytest.mark.parametrize("count", [1, ROWS_A_STATEMENT - 1, ROWS_A_STATEMENT,
                                   2 * ROWS_A_STATEMENT + 37])  # fmt: skip
def test_the_rows_are_written_in_order_as_given(tmp_path: Path, count: int) -> None:
    db = SQLiteViews(str(tmp_path / "views.db"))
    rows = _rows(count)
    with db.transaction() as cur:
        cur.insert_rows("ehqa_timeline", COLUMNS, rows)
    written = db.query(f"SELECT {', '.join(COLUMNS)} FROM ehqa_timeline ORDER BY rowid")
    assert written == rows
    db.close()


def test_a_wide_table_stays_within_the_values_a_statement_binds(tmp_path: Path) -> None:
    db = SQLiteViews(str(tmp_path / "views.db"))
    conn = sqlite3.connect(str(tmp_path / "views.db"))
    columns = [f"c{n}" for n in range(VALUES_A_STATEMENT // ROWS_A_STATEMENT + 5)]
    conn.execute(f"CREATE TABLE wide ({', '.join(columns)})")
    conn.close()
    rows = [tuple(range(n, n + len(columns))) for n in range(3 * ROWS_A_STATEMENT)]
    with db.transaction() as cur:
        cur.execute("SELECT 1")  # (the connection's limit: lowered to what old SQLite allows)
        db._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, VALUES_A_STATEMENT)
        cur.insert_rows("wide", columns, rows)
    assert db.query(f"SELECT {', '.join(columns)} FROM wide ORDER BY rowid") == rows
    db.close()


def test_a_row_of_another_length_is_refused_and_nothing_written(tmp_path: Path) -> None:
    db = SQLiteViews(str(tmp_path / "views.db"))
    rows = _rows(2 * ROWS_A_STATEMENT)
    rows[5] = rows[5][:-1]
    with pytest.raises(sqlite3.ProgrammingError), db.transaction() as cur:
        cur.insert_rows("ehqa_timeline", COLUMNS, rows)
    assert db.query("SELECT COUNT(*) FROM ehqa_timeline") == [(0,)]
    db.close()
