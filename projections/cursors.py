"""The cursor a view's batch writes through, on SQLite or PostgreSQL: the SQL of `projections.db`
(`?` placeholders) run as each store runs it, and the bulk writes and keyed reads a rebuild makes
in the fastest way each store offers."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # (a type only: the views of an SQLite store never load psycopg)
    import psycopg

# Rows an SQLite INSERT names at most, and values (SQLite before 3.32 binds at most 999).
ROWS_A_STATEMENT, VALUES_A_STATEMENT = 100, 999


class Cursor(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any: ...
    def fetchall(self) -> list[tuple[Any, ...]]: ...
    def fetchone(self) -> tuple[Any, ...] | None: ...

    @property
    def rowcount(self) -> int: ...

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None: ...

    def update_texts(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Set text `columns` of the rows whose `key` is each row's first value to its others."""
        ...

    def rows_with(
        self, table: str, key: str, columns: Sequence[str], keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """`key` and `columns` of the rows whose text `key` is one of `keys` (in no order)."""
        ...


class _Fetching:
    """What both stores' cursors read back from the driver's own cursor, as it gives it."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchall(self) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._cursor.fetchall()
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._cursor.fetchone()
        return row

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class SQLiteCursor(_Fetching):
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        super().__init__(cursor)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql, rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many rows to a statement (its VALUES list: up to ROWS_A_STATEMENT), the rest one by
        one: a rebuild inserts a view's rows by the hundred thousand, and running a statement
        once a row costs a quarter of the insert (in one transaction, the same rows and ids)."""
        if not rows:
            return
        insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
        marks = f"({', '.join('?' * len(columns))})"
        many = min(ROWS_A_STATEMENT, VALUES_A_STATEMENT // len(columns))
        whole = len(rows) - len(rows) % many
        if whole:
            if set(map(len, rows)) != {len(columns)}:  # (flattened, a row short would shift)
                raise sqlite3.ProgrammingError(f"rows of {len(columns)} values expected")
            flat, each = list(chain.from_iterable(rows[:whole])), many * len(columns)
            self._cursor.executemany(
                insert + ", ".join([marks] * many),
                [flat[at : at + each] for at in range(0, len(flat), each)],
            )
        if whole < len(rows):
            self._cursor.executemany(insert + marks, rows[whole:])

    def update_texts(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            sets = ", ".join(f"{column} = ?" for column in columns)
            self._cursor.executemany(
                f"UPDATE {table} SET {sets} WHERE {key} = ?", [(*r[1:], r[0]) for r in rows]
            )

    def rows_with(
        self, table: str, key: str, columns: Sequence[str], keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        found, names = [], ", ".join((key, *columns))
        for at in range(0, len(keys), VALUES_A_STATEMENT):
            part = keys[at : at + VALUES_A_STATEMENT]
            self._cursor.execute(
                f"SELECT {names} FROM {table} WHERE {key} IN ({', '.join('?' * len(part))})",
                part,
            )
            found += self.fetchall()
        return found


class PgCursor(_Fetching):
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        super().__init__(cursor)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(pg_sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(pg_sql(sql), [tuple(r) for r in rows])

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """By COPY: several times faster than INSERTs."""
        if rows:
            with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def update_texts(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """In one statement, the rows given as one JSON array of arrays (an UPDATE a row costs
        a statement each, even pipelined; 25,000 rows took 0.23 to 0.28 s so, 0.32 to 0.44 s
        given as text arrays)."""
        if rows:
            import orjson

            sets = ", ".join(f"{column} = given.row->>{at}" for at, column in enumerate(columns, 1))
            self._cursor.execute(
                f"UPDATE {table} SET {sets} FROM jsonb_array_elements(%s::jsonb) AS given (row)"
                f" WHERE {table}.{key} = given.row->>0",
                [orjson.dumps(rows).decode()],
            )

    def rows_with(
        self, table: str, key: str, columns: Sequence[str], keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """In one statement, the keys given as one array."""
        if not keys:
            return []
        names = ", ".join((key, *columns))
        self._cursor.execute(
            f"SELECT {names} FROM {table} WHERE {key} = ANY(%s::text[])", [list(keys)]
        )
        return self.fetchall()


def pg_sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")
