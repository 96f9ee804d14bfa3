"""What every route shares: one Services, the tokens, the access log and the idempotency keys;
and the checks of who may read or record what.

Reads run at once, each on its own connection: they neither catch the views up (the follower
beside the server keeps them current) nor write (their access-log entries are group-committed).
Writes are serialised within a worker (`lock`; on SQLite, in turn with the sweep's process and
the other workers too: `WriteTurn`) while they record; then, outside it, each waits for its
views to be caught up past it before it answers (one catch-up for every write waiting at once,
its three views and those writes' access-log entries in one transaction: `catch_up`,
`projections.together`, under the store's catch-up lock), so a caller reads their own writes.

The edge translates and never decides: it checks who is calling and what the consent statement
allows (aggregates.access), makes one application call, and maps refusals to problem+json.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any

from aggregates.access import Decision, Principal, may_read, may_record, may_see_authority
from ehqa.api.catch_up import CatchUpGroup
from ehqa.api.errors import Refused
from ehqa.api.group_commit import GroupCommit
from ehqa.auth import (
    ACCESS_INSERT,
    AccessLog,
    Authenticator,
    JwtVerifier,
    TokenBook,
    Unauthenticated,
    access_rows,
)
from ehqa.filters import UnknownValueError, check_filters
from ehqa.idempotency import IdempotencyKeys
from ehqa.services import Services
from ehqa.store import is_postgres
from schedulers.lock import CatchUpLock

EPISODE_VIEWS = ("episodes", "timeline", "children")  # the views an episode's commands change
Rows = Sequence[tuple[Any, ...]]


def check(decision: Decision) -> None:
    if not decision.allowed:
        raise Refused(403, "Forbidden", decision.reason)


class WriteTurn:
    """A worker's writes one at a time; on SQLite (one writer to the file), also in turn with
    the sweep's process and the other workers, by the store's catch-up lock
    (schedulers.lock.CatchUpLock), which the sweep holds around each batch it writes. A write
    waiting for SQLite's own lock instead would back off for up to 100 ms at a time and, beside
    a sweep writing batch after batch, keep missing its turn. Re-entrant, as the lock it
    replaces."""

    def __init__(self, store: CatchUpLock | None) -> None:
        self._thread = threading.RLock()
        self._store = store
        self.local = store is None  # (only this worker's writes take turns)
        self._held = threading.local()  # (each thread's stack of what it entered)

    def __enter__(self) -> None:
        self._thread.acquire()
        if self._store is None:
            return
        try:
            held = self._store.held()
            held.__enter__()
        except BaseException:
            self._thread.release()
            raise
        self._held.__dict__.setdefault("stack", []).append(held)

    def __exit__(self, *exc: object) -> None:
        try:
            if self._store is not None:
                self._held.stack.pop().__exit__(*exc)
        finally:
            self._thread.release()


class Api:
    """What the routes share: one Services, tokens and the access log."""

    def __init__(
        self, services: Services, verifier: JwtVerifier | None = None, followed: bool = False
    ) -> None:
        self.services = services
        # (taken by writes only; on SQLite, one writer across processes too: WriteTurn)
        self.lock = WriteTurn(
            None if is_postgres(services.database_url) else services.catch_up_lock
        )
        self.followed = followed  # a follower in this process keeps the views current
        self.tokens = TokenBook(services.views)
        self.auth = Authenticator(self.tokens, verifier)
        self.access = AccessLog(services.views)
        self.group = GroupCommit(services.views, turn=None if self.lock.local else self.lock)
        self.tokens.defer = self.group.add
        self.keys = IdempotencyKeys(services.views)
        self.writes_caught_up = CatchUpGroup(self._catch_up_episode_views)
        self.staff: dict[str, str] = {}  # worker -> line manager (EHQA_STAFF_FILE)

    def who(self, authorization: str | None) -> Principal:
        try:
            return self.auth.principal(authorization)
        except Unauthenticated as error:
            raise Refused(401, "Unauthorized", str(error)) from None

    def current(self) -> None:
        """Views current enough to read: a follower in this process keeps them so (a read does
        not catch up); without one, the read catches them up itself."""
        if not self.followed:
            self.services.catch_up()

    def logged(self, who: Principal, action: str, episode: str | None = None) -> None:
        """A read's access-log entry, committed with others within a fraction of a second."""
        self.group.add(ACCESS_INSERT, access_rows(who, [(action, episode)]))

    def close(self) -> None:
        self.group.close()

    def episode_view(self, reference: str) -> dict[str, Any]:
        view = self.services.read.episode(reference)
        if view is None:
            raise Refused(404, "Not Found", f"no episode {reference}")
        return view

    @contextmanager
    def authority_read(self, who: Principal, what: str) -> Iterator[None]:
        """An authority-wide query: refused to agency roles; answered from current views and
        recorded in the access log."""
        check(may_see_authority(who))
        self.current()
        self.logged(who, what)
        yield

    def episode_json(self, reference: str, logged: Rows = ()) -> Any:
        """The episode as a command's answer (dates as text, as it is kept for replays), from
        views caught up with the command's own events (an episode's commands record only the
        episode's and its child's events: the other views have nothing to take from them).
        Asked after the command is committed, outside `lock`: a write on the same episode
        committed meanwhile may show in it too, as in a read made then. `logged`: the write's
        access-log rows, committed with the catch-up (`CatchUpGroup`)."""
        self.episode_caught_up(logged)
        return json.loads(json.dumps(self.episode_view(reference), default=str))

    def episode_caught_up(self, logged: Rows = ()) -> None:
        """The views an episode's commands change, caught up past every write committed before
        this call (a write's, after its events are committed; outside `lock`, so that the next
        write need not wait for it), by one catch-up shared with the writes asking meanwhile.
        Never asked under `lock`: on SQLite the catch-up takes it, and another write's catch-up
        may be waiting for it."""
        self.writes_caught_up.after_write(logged)

    def _catch_up_episode_views(self, logged: list[tuple[Any, ...]]) -> None:
        # SQLite has one writer: a catch-up beside a write would wait for its lock by sleeping
        # (and make it wait alike), so there it takes `lock`; PostgreSQL writes both at once.
        with nullcontext() if is_postgres(self.services.database_url) else self.lock:
            self.services.catch_up_views(EPISODE_VIEWS, (ACCESS_INSERT, logged) if logged else None)

    def visible(self, who: Principal, reference: str) -> dict[str, Any]:
        """The episode, if the caller may read it. A caller who may not gets the same 404 as
        for an episode that does not exist: a refusal must not tell them it exists."""
        self.current()
        view = self.episode_view(reference)
        if not may_read(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]).allowed:
            raise Refused(404, "Not Found", f"no episode {reference}")
        return view

    def readable(self, who: Principal, reference: str, action: str) -> dict[str, Any]:
        view = self.visible(who, reference)
        self.logged(who, action, reference)
        return view

    def writable(self, who: Principal, reference: str) -> dict[str, Any]:
        """The episode, if the caller may record on it (404 if they may not even read it), as
        the views stand (kept current by the follower, or caught up now without one)."""
        view = self.visible(who, reference)
        check(may_record(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]))
        return view

    def may_read_episode(self, who: Principal, reference: str) -> bool:
        """From the views as they stand (the caller has caught them up): no catch-up per call."""
        view = self.services.read.episode(reference)
        if view is None:
            return False
        return may_read(who, (view["lead"] or {}).get("agency"), view["consent_agencies"]).allowed

    def known(self, name: str | None = None, **values: str | None) -> None:
        """A filter value that matches nothing: 400, naming the parameter (as `name`, if given)
        and the known values (asked only on authority-wide routes, so an agency caller never
        sees the list)."""
        try:
            check_filters(self.services, **values)
        except UnknownValueError as error:
            raise Refused(400, "Bad Request", error.detail(name)) from None
