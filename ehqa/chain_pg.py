"""The chain's PostgreSQL recorder (ehqa.chain), in a module of its own so that an SQLite
store never loads the PostgreSQL driver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg.sql import SQL, Composed, Identifier

from ehqa.chain import CHAIN_TABLE, ChainSQL, _rows, append


def postgres_chain_ddl(schema: str) -> list[Composed]:
    table = Identifier(schema, CHAIN_TABLE)
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {} (notification_id bigint PRIMARY KEY,"
            " originator_id text NOT NULL, originator_version bigint NOT NULL,"
            " prev_hash bytea NOT NULL, event_hash bytea NOT NULL, log_hash bytea NOT NULL)"
        ).format(table),
        SQL(
            "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (originator_id, originator_version)"
        ).format(Identifier(f"{CHAIN_TABLE}_event"), table),
    ]


class ChainedPostgresRecorder(PostgresProcessRecorder):
    """eventsourcing's PostgreSQL process recorder, writing the chain rows of what it inserts
    after the insert, in its transaction and under its lock on the events table."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        datastore.enable_db_functions = False  # (that path inserts without the lock or a hook)
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(postgres_chain_ddl(datastore.schema))

    @property
    def chain_sql(self) -> ChainSQL:
        schema = self.datastore.schema
        return ChainSQL(
            f'"{schema}".{CHAIN_TABLE}', f'"{schema}"."{self.events_table_name}"',
            "notification_id", "%s",
        )  # fmt: skip

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            append(curs, self.chain_sql, _rows(stored_events, ids))
        return ids
