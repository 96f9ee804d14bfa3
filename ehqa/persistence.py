"""How the application's events are stored: dates as ISO strings, events recorded before authors
were kept read with `author` None, a process recorder, so that a save may carry a tracking
record in the same transaction as its events, and eventsourcing's JSON read by orjson
(`ehqa.codec`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from functools import partial
from typing import Any
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    JSONTranscoder,
    Mapper,
    ProcessRecorder,
    Recording,
    StoredEvent,
    Tracking,
    Transcoder,
    Transcoding,
)
from eventsourcing.sqlite import SQLiteFactory
from eventsourcing.utils import Environment

from ehqa.chain import ChainedSQLiteRecorder
from ehqa.codec import OrjsonTranscoder
from ehqa.store import postgres_schema_lock, sqlite_schema_lock

log = logging.getLogger(__name__)
# The process recorder's tracking table on PostgreSQL (eventsourcing would name it ehqa_tracking,
# which is the views' own table in the same schema). On SQLite it is eventsourcing's `tracking`.
TRACKING_TABLE = "ehqa_import_tracking"


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class AuthoredMapper(Mapper[UUID]):
    """Events stored before authors were kept read with `author` None."""

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        if "author" not in event.__dict__ and "author" in getattr(
            type(event), "__dataclass_fields__", {}
        ):
            event.__dict__["author"] = None
        return event


TRUE = ("y", "yes", "t", "true", "on", "1")


def replay(aggregate: Any, events: Iterable[Any]) -> Any:
    """Each event applied in turn to the aggregate, as eventsourcing's `project_aggregate` does
    without its check of each event against a runtime-checked Protocol: 19 us an event, about
    as long as decoding it, on every aggregate a command, a read or the sweep loads."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class TrackedApplication(Application[UUID]):
    """An eventsourcing application on a process recorder: a save may carry a `Tracking` record,
    inserted in the same transaction as the events. Its tables are created under a lock (on
    PostgreSQL the schema's, on an SQLite file a lock file beside it), so that two processes
    starting at once do not race to create them (eventsourcing's SQLite tracking table would
    otherwise be given its `__migration__` row twice, and the second process fail)."""

    recorder: ProcessRecorder

    def __init__(
        self, env: Mapping[str, str] | None = None, *, sharing: TrackedApplication | None = None
    ) -> None:
        # `sharing`: another application on the same store, whose infrastructure (its
        # connections, its recorder, its tables made) this one takes instead of its own
        self._sharing = sharing
        env = dict(env or {})
        if sharing is not None:
            super().__init__(env=env)
            return
        module = env.get("PERSISTENCE_MODULE")
        sqlite_file = env.get("SQLITE_DBNAME", "")
        on_file = module == "eventsourcing.sqlite" and ":memory:" not in sqlite_file
        on_file = on_file and "mode=memory" not in sqlite_file
        serialise_schema = module == "eventsourcing.postgres" or on_file
        serialise_schema = serialise_schema and env.get("CREATE_TABLE", "y").lower() in TRUE
        if serialise_schema:
            env["CREATE_TABLE"] = "n"
        super().__init__(env=env)
        if not serialise_schema:
            return
        if module == "eventsourcing.postgres":
            with postgres_schema_lock(env):
                self.recorder.create_table()  # type: ignore[attr-defined]
        elif on_file:
            with sqlite_schema_lock(sqlite_file):
                self.recorder.create_table()  # type: ignore[attr-defined]

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        if self._sharing is not None:
            return self._sharing.factory
        return super().construct_factory(env)

    def construct_repository(self) -> Repository[UUID]:
        """eventsourcing's repository, replaying an aggregate's events with `replay` unless a
        caller names another projector."""
        repository = super().construct_repository()
        repository.get = partial(repository.get, projector_func=replay)  # type: ignore[method-assign]
        return repository

    def construct_transcoder(self) -> Transcoder:
        """eventsourcing's JSON transcoder, reading with orjson (`ehqa.codec`): it writes the
        same bytes, and reads every store written before."""
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=AuthoredMapper
        )

    def construct_recorder(self) -> ProcessRecorder:
        """A process recorder that also chains what it stores (ehqa.chain): on SQLite and
        PostgreSQL; an in-memory store keeps no chain."""
        if self._sharing is not None:
            return self._sharing.recorder
        factory = self.factory
        if isinstance(factory, SQLiteFactory):
            chained = ChainedSQLiteRecorder(factory.datastore)
            if factory.env_create_table():
                chained.create_table()
            return chained
        if type(factory).__module__ == "eventsourcing.postgres":
            # (imported here: an SQLite store never loads the PostgreSQL driver)
            from eventsourcing.postgres import PostgresFactory

            from ehqa.chain_pg import ChainedPostgresRecorder

            assert isinstance(factory, PostgresFactory)
            recorder = ChainedPostgresRecorder(
                factory.datastore,
                events_table_name=f"{factory.env.name.lower()}_events",
                tracking_table_name=TRACKING_TABLE,
            )
            if factory.env_create_table():
                recorder.create_table()
            return recorder
        return factory.process_recorder()

    # Told of the aggregates of every save, once its events are committed (Services hands them
    # to the episodes view: a catch-up in this process then need not read them back).
    saved: Callable[[Iterable[Any]], None] | None = None

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        recordings = super()._record(processing_event)
        if self.saved is not None:
            try:
                self.saved(processing_event.aggregates.values())
            except Exception:  # (the events are committed: the save has not failed)
                log.exception("the saved aggregates could not be handed on; the views read them")
        return recordings

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        tracking: Tracking | None = None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """Save, with the tracking record (if any) in the same transaction as the events: the
        way eventsourcing's process applications record what they have processed."""
        if tracking is None:
            return super().save(*objs, **kwargs)
        processing_event = ProcessingEvent[UUID](tracking=tracking)
        processing_event.collect_events(*objs, **kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        return recordings


class StoreLog(TrackedApplication):
    """The store's events alone, as the application (ehqa.application) records them: what a
    query needs to know whether its views are current, without the aggregates' code. The
    application, when a command needs it, is made `sharing` it (one store, opened once)."""

    name = "ehqa"  # (the application's: the same settings, tables and recorder)
