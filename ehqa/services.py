"""The composition root: one store URL becomes the application, its views and its queries."""

from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from aggregates.calendar import england_and_wales
from ehqa.clock import Clock, from_environment
from ehqa.keyring import Keyring, cipher_env, parse_keys
from ehqa.keys import ChildKeys
from ehqa.migrated import up_to_date
from ehqa.policies import DEFAULT_POLICY, PolicyBook
from ehqa.store import SQLITE_EVENTS, check_store, postgres_conninfo, store_env
from projections.db import Cursor, PostgresViews, SQLiteViews, ViewDatabase
from projections.freshness import Newer, all_current, in_recorder
from projections.histories import EventLog
from projections.queries import ReadModels, episode_json
from projections.topics import VIEW_TOPICS

if TYPE_CHECKING:  # (the runner is loaded when a view has something to take, or is rebuilt)
    # (and the application, the views' code and the aggregates when a command needs them: a
    # query whose views are current reads the views alone)
    from aggregates.audit import Audit
    from aggregates.episode import Episode
    from ehqa.application import EhqaApplication
    from ehqa.children import ChildDetails  # (and the child's aggregate when a child is read)
    from ehqa.persistence import StoreLog
    from projections.runner import DeadLetter, ViewStatus
    from projections.views import Projection
    from schedulers.delivery import Sink
    from schedulers.lock import CatchUpLock, SweepLock
    from schedulers.sweep import Raised


def sweep_lock(env: dict[str, str]) -> SweepLock:
    from schedulers.lock import FileSweepLock, PostgresSweepLock

    lock: SweepLock = _store_lock(env, "sweep", PostgresSweepLock, FileSweepLock)
    return lock


def catch_up_lock(env: dict[str, str]) -> CatchUpLock:
    from schedulers.lock import FileCatchUpLock, PostgresCatchUpLock

    lock: CatchUpLock = _store_lock(env, "catch-up", PostgresCatchUpLock, FileCatchUpLock)
    return lock


def _store_lock(env: dict[str, str], name: str, postgres: Any, file: Any) -> Any:
    """A lock of the store's own: PostgreSQL's, keyed by its schema; else a lock file named
    `name` beside the SQLite database (or in the temporary directory, for a memory store)."""
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        return postgres(postgres_conninfo(env), env.get("POSTGRES_SCHEMA"))
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        return file(f"{env['SQLITE_DBNAME']}.{name}.lock")
    return file(f"{tempfile.gettempdir()}/ehqa-{id(env)}.{name}.lock")


def open_views(env: dict[str, str]) -> ViewDatabase:
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        return SQLiteViews(env["SQLITE_DBNAME"])
    if module == "eventsourcing.postgres":
        return PostgresViews(postgres_conninfo(env), env.get("POSTGRES_SCHEMA"))
    # (named and shared, so that the migrations can reach it while the views keep it alive)
    return SQLiteViews(f"file:ehqa-{uuid.uuid4().hex}?mode=memory&cache=shared")


def migrate(env: dict[str, str], views: ViewDatabase) -> list[str]:
    """Apply the migrations the store lacks; an in-memory store's tables are in its views'."""
    if env["PERSISTENCE_MODULE"] == "eventsourcing.popo" and isinstance(views, SQLiteViews):
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": views.path}
    if up_to_date(env):  # (read without loading yoyo)
        return []
    from ehqa.migrate import migrate_store

    return migrate_store(env)


class Services:
    """What every entry point needs: commands through `app`, questions through `read`."""

    def __init__(
        self,
        database_url: str,
        *,
        policy_dir: Path | None = None,
        default_policy: str = DEFAULT_POLICY,
        clock: Clock | None = None,
        cipher_keys: str | None = None,
    ) -> None:
        env = store_env(database_url)
        # (unset: EHQA_CIPHER_KEYS from the environment; see ehqa.keyring and docs/privacy.md)
        keys = cipher_keys if cipher_keys is not None else os.environ.get("EHQA_CIPHER_KEYS")
        env.update(cipher_env(keys))
        check_store(database_url, env)
        clock = clock or from_environment()
        self.database_url = database_url
        # (what another Services on the same store needs to behave as this one: `sibling`)
        # (and what a process of its own needs: `ehqa.api.background`; so the clock pickles)
        self.options: dict[str, Any] = {
            "policy_dir": policy_dir, "default_policy": default_policy, "clock": clock,
            "cipher_keys": keys or "",
        }  # fmt: skip
        self.env = env
        self.policies = PolicyBook(policy_dir)
        self.policies.get(default_policy)  # (an unknown default policy is refused at the start)
        calendar = england_and_wales()
        self._log: StoreLog | None = None
        self._app: EhqaApplication | None = None
        self._making = threading.Lock()  # (a server's threads may first ask for it at once)
        self.views = open_views(env)
        # The event store, opened now unless the views can read its table themselves (an
        # SQLite file whose events table is made): a query whose views are current then never
        # loads the event store's code (the library, the cipher, the chain).
        self._newer = self._log_table()
        if self._newer is None:
            try:
                self.log  # noqa: B018 (opened, and its tables made, now)
            except BaseException:
                self.views.close()
                raise
        # The tables that are not views (tokens, access log, ...) are made and changed only by
        # migrations (ehqa/migrations): those the store lacks are applied on every start-up.
        try:
            self.migrated = migrate(env, self.views)
        except BaseException:
            self.close()
            raise
        self.read = ReadModels(self.views, calendar)
        self.keys = Keyring(parse_keys(keys)) if keys else None

    @property
    def log(self) -> StoreLog:
        """The store's event log (the application, when made, shares it), opened when first
        asked for."""
        with self._making:
            return self._opened_log()

    def _opened_log(self) -> StoreLog:
        """(Called holding `_making`.)"""
        if self._log is None:
            from ehqa.persistence import StoreLog

            self._log = StoreLog(self.env)
        return self._log

    def _log_table(self) -> Newer | None:
        """Where the views' own connection can ask the log for newer events: an SQLite
        file's events table, if it is made (eventsourcing 9.5's `stored_events`, its rowid the
        notification id, as projections.histories reads it)."""
        name = self.env.get("SQLITE_DBNAME", "")
        if self.env["PERSISTENCE_MODULE"] != "eventsourcing.sqlite":
            return None
        if ":memory:" in name or "mode=memory" in name or not isinstance(self.views, SQLiteViews):
            return None
        made = self.views.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [SQLITE_EVENTS]
        )
        log = EventLog(self.views, f'"{SQLITE_EVENTS}"', "rowid", as_text=True)
        return log.newer if made else None

    @property
    def app(self) -> EhqaApplication:
        """The application (commands, replays), made when first asked for, on the store's
        event log."""
        with self._making:
            return self._app if self._app is not None else self._make_app()

    def _make_app(self) -> EhqaApplication:
        from ehqa.application import EhqaApplication

        options = self.options
        app = EhqaApplication(self.env, policies=self.policies, clock=options["clock"],
                              default_policy=options["default_policy"],
                              calendar=self.read.calendar, sharing=self._opened_log())  # fmt: skip
        app.child_keys = ChildKeys(self.views, self.env, self.keys)
        app.saved = self._saved
        self._app = app
        return app

    @functools.cached_property
    def projections(self) -> list[Projection]:
        """The views, made when first asked for (a query whose views are current needs none)."""
        from projections.views import (
            AuditsProjection,
            ChildrenProjection,
            EpisodesProjection,
            OutboxProjection,
            TimelineProjection,
        )

        calendar = self.read.calendar
        return [
            EpisodesProjection(self._load_episode, self.policies.get, calendar),
            TimelineProjection(),
            ChildrenProjection(),
            OutboxProjection(),
            AuditsProjection(self._load_audit, self.policies.get, calendar),
        ]

    @functools.cached_property
    def sweep_lock(self) -> SweepLock:
        return sweep_lock(self.env)

    @functools.cached_property
    def catch_up_lock(self) -> CatchUpLock:
        """One catch-up of the views at a time across processes (schedulers.lock)."""
        return catch_up_lock(self.env)

    def _saved(self, aggregates: Iterable[Any]) -> None:
        """What the application saved, handed to the episodes view if this Services has made
        it (its next catch-up then takes those episodes as saved, not read back)."""
        if "projections" in self.__dict__:
            from projections.views import EpisodesProjection

            episodes = self.projections[0]
            assert isinstance(episodes, EpisodesProjection)
            episodes.saved(aggregates)

    def sibling(self) -> Services:
        """Another Services on the same store, with the same policies and clock (a thread's own:
        a database connection is never shared between threads)."""
        return Services(self.database_url, **self.options)

    def _load_audit(self, audit_id: UUID, version: int) -> Audit:
        audit: Audit = self.app.repository.get(audit_id, version=version)
        return audit

    def _load_episode(self, episode_id: UUID, version: int) -> Episode:
        episode: Episode = self.app.repository.get(episode_id, version=version)
        return episode

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections)
        raise KeyError(f"unknown view '{name}' (views: {known})")

    catch_up_batch: int | None = None  # events a catch-up batch takes, at most (None: decided)

    def catch_up(self) -> int:
        newer = self._newer or in_recorder(self.log.recorder)
        if all_current(self.views, VIEW_TOPICS, newer):
            return 0  # (nothing to take: found without loading the runner)
        from projections.runner import catch_up_all
        from projections.together import catch_up_together

        with self.catch_up_lock.held():  # (a few events behind: one pass, one transaction)
            taken = catch_up_together(self.app, self.views, self.projections)
            if taken is not None:
                return taken
            return catch_up_all(self.app, self.views, self.projections, self.catch_up_batch)

    def catch_up_one(self, name: str, **options: Any) -> int:
        from projections.runner import catch_up

        return catch_up(self.app, self.views, self.projection(name), **options)

    def catch_up_views(
        self, names: Iterable[str], also: tuple[str, list[tuple[Any, ...]]] | None = None
    ) -> None:
        """The views named caught up: together in one pass where they can be (a write's own
        views, a few events behind: `projections.together`), else one at a time. `also`: rows
        (an INSERT and its rows) committed in the same transaction, or before the views are
        caught up one at a time."""
        from projections.together import catch_up_together

        def write(cur: Cursor) -> None:
            if also is not None:
                cur.executemany(*also)

        chosen = [self.projection(name) for name in names]
        with self.catch_up_lock.held():
            if catch_up_together(self.app, self.views, chosen, write if also else None) is not None:
                return
            if also is not None:
                with self.views.transaction() as cur:
                    write(cur)
            for projection in chosen:
                self.catch_up_one(projection.name)

    def rebuild(self, name: str, **options: Any) -> int:
        from projections.runner import rebuild

        return rebuild(self.app, self.views, self.projection(name), **options)

    def status(self) -> list[ViewStatus]:
        from projections.runner import status

        return status(self.app, self.views, self.projections)

    def dead_letters(self, view: str | None = None) -> list[DeadLetter]:
        """The events each view (or one) could not apply and skipped."""
        from projections.runner import dead_letters

        return dead_letters(self.views, view and self.projection(view).name)

    def sweep(
        self, today: date | None = None, stop: threading.Event | None = None, paced: bool = False
    ) -> list[Raised] | None:
        """One sweep as at `today` (default: the clock); None if another sweeper holds the lock.
        Once `stop` is set, it ends after the batch under way (the rest: the next sweep).
        `paced` (a sweep beside a server): after each batch it lets the catch-up lock be for as
        long as it held it (schedulers.lock.paced)."""
        with self.sweep_lock.hold() as held:
            if not held:
                return None
            from schedulers.lock import paced as pacing
            from schedulers.sweep import sweep

            exclusive = self.catch_up_lock.held
            if paced:
                exclusive = functools.partial(pacing, exclusive, stop.wait if stop else time.sleep)
            return sweep(self.app, self.read, self.catch_up, today or self.app.clock(),
                         exclusive, stop.is_set if stop else lambda: False)  # fmt: skip

    def assign_audit(self, reference: str, *, episode: str, scheme: str, auditor: str, reason: str,
                     on: date, managers: dict[str, str] | None = None, kind: str = "detailed",
                     auditor_subject: str | None = None, by: str | None = None) -> Audit:  # fmt: skip
        """Assign an audit, refusing an auditor who recorded on the episode (as the access log
        shows), led it, or manages any of its lead professionals (as the staff list shows)."""
        writers = {
            person
            for row in self.views.query(
                "SELECT DISTINCT who, subject FROM ehqa_access_log"
                " WHERE episode = ? AND action LIKE 'record %'",
                (episode,),
            )
            for person in row
            if person
        }
        leads = set(self.app.get_episode(episode).lead_history)
        lead_managers = {manager for lead in leads if (manager := (managers or {}).get(lead))}
        return self.app.assign_audit(
            reference, episode=episode, scheme=scheme, auditor=auditor, reason=reason, on=on,
            recorded_by=writers, lead_managers=lead_managers, kind=kind,
            auditor_subject=auditor_subject, by=by,
        )  # fmt: skip

    def episode_as_at(self, reference: str, day: date) -> dict[str, Any] | None:
        """The episode summary (as `read.episode` gives it) as it stood on a business date,
        replayed from the events dated on or before it; None if it was opened only later."""
        from projections.views import EpisodesProjection

        episode = self.app.episode_as_at(reference, day)
        return None if episode is None else episode_json(EpisodesProjection.summary(episode))

    def child_details(self, child_id: str) -> ChildDetails | None:
        """The child's personal fields (ehqa.children); None if none was ever recorded."""
        from ehqa import children

        return children.details(self.app, child_id)

    def children_details(self, child_ids: Iterable[str]) -> dict[str, ChildDetails | None]:
        """`child_details` of many children, by child identifier."""
        from ehqa import children

        return children.many(self.app, child_ids)

    def deliver(self, sinks: list[Sink]) -> int:
        from schedulers.delivery import deliver

        self.catch_up()
        return deliver(self.views, sinks)

    def close(self) -> None:
        self.views.close()
        if "catch_up_lock" in self.__dict__:
            self.catch_up_lock.close()
        opened = self._app or self._log  # (the one store they share, if it was opened)
        if opened is not None:
            opened.close()
