"""The chain as the store holds it: the two streams `ehqa verify` walks, its head (for digests),
and the names of the aggregates a break concerns.

Reads open their own connection, in one snapshot: on an SQLite file a read transaction on a
read-only connection, on PostgreSQL a REPEATABLE READ transaction with server-side cursors.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.audit import audit_id
from aggregates.episode import episode_id
from ehqa import digest as digests
from ehqa.chain import CHAIN_TABLE, ZERO
from ehqa.digest import Digest
from ehqa.digest_sinks import deliver_digests, webhook_sink
from ehqa.services import Services
from ehqa.store import POSTGRES_EVENTS, SQLITE_EVENTS, StoreURLError, postgres_conninfo, store_env
from ehqa.verify import BATCH, Outcome, batched, walk

CHAIN_COLUMNS = (
    "notification_id, originator_id, originator_version, prev_hash, event_hash, log_hash"
)


class EpisodeUnknownError(LookupError):
    pass


class LogReader:
    """One snapshot of the events and the chain (use as a context manager)."""

    def __init__(self, env: dict[str, str]) -> None:
        module = env["PERSISTENCE_MODULE"]
        self.postgres = module == "eventsourcing.postgres"
        if not self.postgres and module != "eventsourcing.sqlite":
            raise StoreURLError("an in-memory store keeps no chain to verify")
        self.conn: Any
        if self.postgres:
            schema = env.get("POSTGRES_SCHEMA")
            options = f"-c search_path={schema}" if schema else ""
            import psycopg  # (here: an SQLite store never loads the PostgreSQL driver)

            self.conn = psycopg.connect(postgres_conninfo(env), options=options)
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        else:
            uri = Path(env["SQLITE_DBNAME"]).resolve().as_uri() + "?mode=ro"
            self.conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None)
            self.conn.execute("BEGIN")
        self.mark = "%s" if self.postgres else "?"
        self.events_table = POSTGRES_EVENTS if self.postgres else SQLITE_EVENTS
        self.nid = "notification_id" if self.postgres else "rowid"
        self._cursors = 0

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.conn.rollback() if self.postgres else self.conn.execute("ROLLBACK")
        self.conn.close()

    @contextmanager
    def _stream(self, query: str, params: tuple[Any, ...]) -> Iterator[Iterator[tuple[Any, ...]]]:
        if self.postgres:
            self._cursors += 1
            with self.conn.cursor(name=f"ehqa_verify_{self._cursors}") as cursor:
                cursor.execute(query, params)
                yield batched(cursor, BATCH)
        else:
            cursor = self.conn.execute(query, params)
            try:
                yield iter(cursor)
            finally:
                cursor.close()

    def _key(self, originator: str) -> Any:
        return UUID(originator) if self.postgres else originator

    def events(self, originator: str | None) -> Any:
        where = f" WHERE originator_id = {self.mark}" if originator else ""
        # (as the chain holds it: a UUID's 32 hex digits, made by the server)
        oid = "replace(originator_id::text, '-', '')" if self.postgres else "originator_id"
        query = (
            f"SELECT {self.nid}, {oid}, originator_version, topic, state"
            f" FROM {self.events_table}{where} ORDER BY {self.nid}"
        )
        return self._stream(query, (self._key(originator),) if originator else ())

    def chain(self, originator: str | None) -> Any:
        where = f" WHERE originator_id = {self.mark}" if originator else ""
        query = f"SELECT {CHAIN_COLUMNS} FROM {CHAIN_TABLE}{where} ORDER BY notification_id"
        return self._stream(query, (originator,) if originator else ())

    def chained(self, originator: str, version: int) -> bytes | None:
        """The event hash the chain holds for that version of the aggregate."""
        found = self.rows(
            f"SELECT event_hash FROM {CHAIN_TABLE}"
            " WHERE originator_id = ? AND originator_version = ?",
            (originator, version),
        )
        return bytes(found[0][0]) if found else None

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(query.replace("?", self.mark), params)
        return [tuple(row) for row in cursor.fetchall()]

    def head(self) -> tuple[int, bytes]:
        found = self.rows(
            f"SELECT notification_id, log_hash FROM {CHAIN_TABLE}"
            " ORDER BY notification_id DESC LIMIT 1"
        )
        return (int(found[0][0]), bytes(found[0][1])) if found else (0, ZERO)

    def count(self, table: str) -> int:
        return int(self.rows(f"SELECT COUNT(*) FROM {table}")[0][0])

    def name(self, originator: str) -> str:
        """What a person would call the aggregate: `episode REF`, `audit REF`, a child's record,
        or (none of those in the views) `aggregate <id>`."""
        for table, column, kind, to_id in (
            ("ehqa_episodes", "reference", "episode", episode_id),
            ("ehqa_audits", "reference", "audit", audit_id),
        ):
            for reference in self._optional(table, column):
                if to_id(reference).hex == originator:
                    return f"{kind} {reference}"
        for record in self._optional("ehqa_children", "record_id"):
            if UUID(str(record)).hex == originator:
                return f"the child record {originator}"
        return f"aggregate {originator}"

    def _optional(self, table: str, column: str) -> Iterator[Any]:
        """A view's column, or nothing when the views were never built in this store."""
        exists = (
            "SELECT to_regclass(?) IS NOT NULL" if self.postgres
            else "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        )  # fmt: skip
        if not self.rows(exists, (table,))[0][0]:
            return
        with self._stream(f"SELECT {column} FROM {table}", ()) as rows:
            for row in rows:
                yield row[0]


def verify(
    env: dict[str, str], episode: str | None = None, digest_file: Path | None = None
) -> tuple[Outcome, str | None]:
    """Walk the chains (one episode's, or the whole log's against the digests, if given); the
    outcome and, on a break, the name of the aggregate it concerns."""
    originator = episode_id(episode).hex if episode else None
    with LogReader(env) as reader:
        if originator and not reader.rows(
            f"SELECT 1 FROM {CHAIN_TABLE} WHERE originator_id = ? LIMIT 1", (originator,)
        ):
            raise EpisodeUnknownError(f"no episode '{episode}' in the chain")
        ahead = digests.read(digest_file) if digest_file else iter(())
        with reader.events(originator) as events, reader.chain(originator) as chain:
            outcome = walk(events, chain, reader.chained, ahead, whole_log=originator is None)
        broken = outcome.broken
        name = reader.name(broken.originator) if broken and broken.originator else None
    return outcome, name


def current(env: dict[str, str], today: date) -> Digest:
    """The digest of the chain's head now, dated `today`."""
    with LogReader(env) as reader:
        position, root = reader.head()
    return Digest(today, position, root)


def write_digest(env: dict[str, str], path: Path, today: date, now: datetime) -> Digest:
    found = current(env, today)
    digests.append(path, found, now)
    return found


def daily_digest(env: dict[str, str], path: Path, today: date, now: datetime) -> Digest | None:
    """The scheduler's round: once a day has ended, the digest of the chain's head, dated that
    day (the day before `today`), unless the file already has one for it or a later day."""
    last = digests.last_date(path)
    day = date.fromordinal(today.toordinal() - 1)
    if last is not None and last >= day:
        return None
    return write_digest(env, path, day, now)


def digest_round(
    services: Services, path: Path, log: logging.Logger, webhook: str | None = None
) -> None:
    """The scheduler's daily digest (EHQA_DIGEST_FILE), and the posting of the digests to the
    webhook (EHQA_DIGEST_WEBHOOK), logged; a failure is logged and tried again next round."""
    try:
        env = store_env(services.database_url)
        written = daily_digest(env, path, services.app.clock(), datetime.now(UTC))
        if written is not None:
            log.info("digest of %s: position %d, root %s", written.date, written.position,
                     written.root.hex())  # fmt: skip
        if webhook:
            posted = deliver_digests(services.views, path, webhook_sink(webhook))
            if posted:
                log.info("posted %d digest(s) to the webhook", posted)
    except Exception:
        log.exception("writing or posting the daily digest failed")
