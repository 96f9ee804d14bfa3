"""Record time: what the system showed at a moment, later recordings left out.

`--as-at DATE` is business time (what had happened by that day, as the record now tells it);
`--known-at TIMESTAMP` is record time: only the events recorded at or before the moment count,
whatever their business dates, so an answer known at a moment never changes afterwards.

An event's recorded time is its timestamp, set when it was recorded. An episode's events are
recorded one after another, so those known at a moment are always the first versions of it.

Reads of one episode replay that episode's known events into views held in memory. The boards
(drift, caseloads, alerts, every clock) replay the log up to the moment into views in a
temporary SQLite file, in batches, and then ask them the same questions the live views answer:
the cost is that of rebuilding the views up to the moment (one pass over the events recorded by
then; memory bounded by the batch; disk the size of the views then). The pass stops at the first
event recorded more than `SLACK` after the moment: events reach the log in the order they were
recorded, give or take concurrent writers' commits, which never lag that much.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, cast

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import PersistenceError

from aggregates.audit import Audit, audit_id
from aggregates.episode import Episode, episode_id
from ehqa.errors import EpisodeNotFoundError
from ehqa.moment import EARLIEST as EARLIEST  # (moments parsed: ehqa.moment)
from ehqa.moment import MomentError as MomentError
from ehqa.moment import london_date as london_date
from ehqa.moment import parse_moment as parse_moment
from ehqa.services import Services
from projections.db import SQLiteViews
from projections.queries import ReadModels
from projections.views import (
    AuditsProjection,
    EpisodesProjection,
    TimelineProjection,
    topics_of,
)

Event = DomainEventProtocol[Any]
BATCH = 5_000  # events replayed into the temporary views per transaction
PAGE = 1_000  # notifications read from the log at a time
SLACK = timedelta(minutes=5)  # how far past the moment the log is read for late commits
# The store failing (unreachable, a grant or a cipher key missing) is raised, never skipped.


def store_failures() -> tuple[type[BaseException], ...]:
    """The store's own failures (PostgreSQL's only when its driver is loaded: an SQLite store
    never loads it, and nothing else raises them)."""
    kinds: list[type[BaseException]] = [sqlite3.Error, PersistenceError]
    loaded = sys.modules.get("psycopg")
    if loaded is not None:
        kinds.append(loaded.Error)
    return tuple(kinds)


def _recorded(event: Event) -> datetime:
    return cast(datetime, event.timestamp)  # type: ignore[attr-defined]


def known_events(services: Services, reference: str, moment: datetime) -> list[Event]:
    """The episode's events recorded at or before `moment`, in version order."""
    events = list(services.app.repository.event_store.get(episode_id(reference)))
    if not events:
        raise EpisodeNotFoundError(reference)
    known = []
    for event in events:
        if _recorded(event) > moment:
            break  # (its later versions were recorded later still)
        known.append(event)
    return known


def episode_at(events: Sequence[Event], day: date | None) -> Episode | None:
    """The episode these events leave (with `day`, only those dated on or before it, replayed
    in business-date order); None if they do not open it."""
    kept = list(events)
    if day is not None:
        ordered = sorted(kept, key=lambda e: (e.on, e.originator_version))  # type: ignore[attr-defined]
        kept = [e for e in ordered if e.on <= day]  # type: ignore[attr-defined]
    episode: Any = None
    for version, event in enumerate(kept, start=1):
        # renumbered: a later-recorded event may carry an earlier business date
        episode = cast(Any, replace(cast(Any, event), originator_version=version)).mutate(episode)
    return cast(Episode | None, episode)


def _projections(services: Services) -> tuple[EpisodesProjection, AuditsProjection]:
    app = services.app
    episodes = EpisodesProjection(
        services._load_episode, app.policies.get, app.calendar, cache_size=2 * BATCH
    )
    audits = AuditsProjection(services._load_audit, app.policies.get, app.calendar)
    return episodes, audits


@contextmanager
def episode_views(
    services: Services, reference: str, moment: datetime, audits: bool = False
) -> Iterator[ReadModels]:
    """Read models holding one episode (and, with `audits`, the audits of it) as it was known
    at `moment`, in memory."""
    events = known_events(services, reference, moment)
    views = SQLiteViews(f"file:ehqa-known-{uuid.uuid4().hex}?mode=memory&cache=shared")
    try:
        episodes, audit_view = _projections(services)
        batch = [(event.originator_version, event) for event in events]
        rows, lines = episodes.prepare(batch), TimelineProjection().rows(batch)
        with views.transaction() as cur:
            episodes.process(cur, rows)
            TimelineProjection().process(cur, lines)
            for audit in _audits_of(services, reference, moment) if audits else []:
                audit_view.process(cur, audit)
        yield ReadModels(views, services.app.calendar)
    finally:
        views.close()


def _audits_of(
    services: Services, reference: str, moment: datetime
) -> Iterator[list[tuple[int, Event]]]:
    """The events of each audit of the episode recorded by `moment` (audits are found through
    the live audits view: an audit names its episode from its first event on)."""
    for (audit,) in services.views.query(
        "SELECT reference FROM ehqa_audits WHERE episode = ? ORDER BY seq", (reference,)
    ):
        known = []
        for event in services.app.repository.event_store.get(audit_id(audit)):
            if _recorded(event) > moment:
                break
            known.append((event.originator_version, event))
        if known:
            yield known


@contextmanager
def board_views(
    services: Services, moment: datetime, timeline: bool = False
) -> Iterator[ReadModels]:
    """Read models holding every episode and audit (and, with `timeline`, every episode's
    timeline) as known at `moment`, replayed into a temporary SQLite file removed afterwards."""
    folder = tempfile.mkdtemp(prefix="ehqa-known-")
    views = SQLiteViews(os.path.join(folder, "views.db"))
    try:
        replay_log(services, views, moment, timeline)
        yield ReadModels(views, services.app.calendar)
    finally:
        views.close()
        shutil.rmtree(folder, ignore_errors=True)


def replay_log(
    services: Services, views: SQLiteViews, moment: datetime, timeline: bool = False
) -> int:
    """Replay the events recorded by `moment` into `views`; how many were replayed."""
    app = services.app
    episodes, audits = _projections(services)
    lines = TimelineProjection()
    episode_topics, audit_topics = set(topics_of(Episode)), set(topics_of(Audit))
    pending: dict[str, list[tuple[int, Event]]] = {"episodes": [], "audits": []}
    late: set[Any] = set()  # aggregates with an event recorded after the moment, or undecodable
    replayed, start, stop = 0, 1, moment + SLACK

    def flush() -> None:
        with views.transaction() as cur:
            if pending["episodes"]:
                episodes.process(cur, episodes.prepare(pending["episodes"]))
                if timeline:
                    lines.process(cur, lines.rows(pending["episodes"]))
            if pending["audits"]:
                audits.process(cur, audits.prepare(pending["audits"]))
        pending["episodes"], pending["audits"] = [], []

    topics = sorted(episode_topics | audit_topics)
    while True:
        page = app.recorder.select_notifications(start=start, limit=PAGE, topics=topics)
        if not page:
            break
        start = page[-1].id + 1
        for notification in page:
            if notification.originator_id in late:
                continue
            try:
                event = app.mapper.to_domain_event(notification)
            except store_failures():
                raise  # (the store failing, e.g. a cipher key not listed: never left out)
            except Exception:  # (the live views dead-letter it; its later events cannot follow)
                late.add(notification.originator_id)
                continue
            recorded = _recorded(event)
            if recorded > stop:
                page = []
                break
            if recorded > moment:
                late.add(event.originator_id)
                continue
            kind = "episodes" if notification.topic in episode_topics else "audits"
            pending[kind].append((notification.id, event))
            replayed += 1
            if len(pending["episodes"]) + len(pending["audits"]) >= BATCH:
                flush()
        if not page:
            break
    flush()
    return replayed
