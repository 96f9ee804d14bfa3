"""Dead letters: an event a view cannot decode or apply is kept here for that view, and skipped.

They are written in the same transaction as the batch's rows and the move of the view's
position, so none is dead-lettered twice or lost. Failures of the store itself are never
dead-lettered (`store_failure`).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import eventsourcing.persistence
from eventsourcing.persistence import Notification

from projections.db import Cursor, ViewDatabase

REASON_LENGTH = 500  # characters of a dead letter's reason kept


@dataclass(frozen=True)
class DeadLetter:
    """An event a view could not decode or apply, and skipped."""

    view: str
    notification_id: int
    originator_id: str | None
    originator_version: int | None
    topic: str | None
    reason: str
    recorded_at: str


# Failures of the store itself (unreachable, a missing grant or table, a corrupt file, a broken
# constraint): they are raised, never dead-lettered, or one bad GRANT would skip the whole log.
# psycopg's errors join them once psycopg is loaded (a rebuild on SQLite never loads it: its
# import costs as much as rebuilding a small view).
STORE_ERRORS: tuple[type[BaseException], ...] = (
    sqlite3.Error, eventsourcing.persistence.PersistenceError,
)  # fmt: skip


def _value_errors(psycopg: Any) -> tuple[type[BaseException], ...]:
    """psycopg's errors caused by a value one event carries: one the store cannot hold (NUL in
    text: DataError), or one too large for an index entry (program_limit_exceeded, 54000)."""
    return (psycopg.DataError, psycopg.errors.ProgramLimitExceeded)


def store_failure(error: BaseException | None) -> bool:
    """The store failed (not the event): so does one that caused the error, such as the key an
    event is encrypted with not being given (raised inside the library's decoding error). A
    value one event carries that the store cannot hold (NUL in PostgreSQL text, or a value too
    large for an index entry: `_value_errors`) is the event's failure: it is dead-lettered."""
    if error is None:
        return False
    if isinstance(error, STORE_ERRORS):
        return True
    loaded = sys.modules.get("psycopg")  # (not loaded: none of its errors can have been raised)
    if loaded and isinstance(error, loaded.Error) and not isinstance(error, _value_errors(loaded)):
        return True
    return store_failure(error.__cause__)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x20 or 0x7F <= code < 0xA0:
        return f"\\x{code:02x}"
    if 0xD800 <= code < 0xE000:  # (a lone surrogate cannot be encoded as UTF-8)
        return f"\\u{code:04x}"
    return char


def storable(text: str, length: int = REASON_LENGTH) -> str:
    """`text` with control characters (NUL above all, which PostgreSQL text cannot hold) and lone
    surrogates escaped, cut to `length` characters."""
    escaped = "".join(map(_escape, text))
    return escaped if len(escaped) <= length else escaped[: length - 1] + "\u2026"


def describe_failure(error: BaseException) -> str:
    return storable(f"{type(error).__name__}: {error}")


Failure = tuple[Notification, BaseException]  # an event that cannot be applied, and why


def _hex(ident: UUID | str) -> str:
    return ident.hex if isinstance(ident, UUID) else storable(str(ident))


def bury(cur: Cursor, name: str, failures: Sequence[Failure]) -> None:
    """Dead-letter events for a view (in the transaction that moves its position past them)."""
    if not failures:
        return
    recorded_at = datetime.now(UTC).isoformat(timespec="seconds")
    cur.executemany(
        "INSERT INTO ehqa_dead_letters (projection, notification_id, originator_id,"
        " originator_version, topic, reason, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (name, n.id, _hex(n.originator_id), n.originator_version, storable(n.topic),
             describe_failure(error), recorded_at)
            for n, error in failures
        ],
    )  # fmt: skip


def dead_letters(db: ViewDatabase, view: str | None = None) -> list[DeadLetter]:
    """The events each view (or one) skipped, in log order."""
    sql = (
        "SELECT projection, notification_id, originator_id, originator_version, topic, reason,"
        " recorded_at FROM ehqa_dead_letters"
    )
    rows = (
        db.query(sql + " WHERE projection = ? ORDER BY notification_id", (view,))
        if view
        else db.query(sql + " ORDER BY projection, notification_id")
    )
    return [DeadLetter(*row) for row in rows]
