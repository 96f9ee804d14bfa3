"""The episodes view: each episode's summary and every occurrence of its clocks and alerts (the
drift board), derived from the aggregate itself."""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

from aggregates.alerts import Rung, ladder
from aggregates.calendar import WorkingCalendar
from aggregates.clocks import AFTER_CLOSURE, due_dates
from aggregates.episode import Episode
from aggregates.policy import ClockName, Policy
from projections.db import Cursor
from projections.protocol import SAFEGUARDING, Batch, History, topics_of
from projections.protocol import iso as _iso

EPISODE_COLUMNS = (
    "reference", "child", "state", "lead_name", "lead_agency", "lead_subject", "policy", "origin", "pre_birth",
    "opened_on", "consent_agencies", "closed_on", "closed_reason", "closure_summary", "version",
    "opened_seq",
)  # fmt: skip
CLOCK_COLUMNS = (
    "reference", "clock", "occurrence", "started_on", "due_on", "stopped_on", "closed_on",
    "exceptions", "lead_name", "lead_agency", "policy", "seq", "next_alert_on", "next_rung",
)  # fmt: skip
ALERT_COLUMNS = (
    "alert_id", "reference", "clock", "occurrence", "rung", "fell_due_on", "raised_on",
    "recipients", "acknowledged_by", "acknowledged_on", "cleared_on", "lead_name", "lead_agency",
    "lead_subject",
)  # fmt: skip


SAVED_KEPT = 1_000  # episodes saved in this process and not yet met by a catch-up, at most
CLOCK_NAMES = {clock: clock.value for clock in ClockName}  # (an enum's value is a property)


@dataclass
class EpisodeRows:
    """What a batch changes in the episodes view: each touched episode's rows, derived once."""

    new: list[tuple[Any, ...]] = field(default_factory=list)
    changed: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)
    alerts: list[tuple[Any, ...]] = field(default_factory=list)


class EpisodesProjection:
    """Each episode's summary and every occurrence of its clocks (the drift board).

    The episode's facts come from the domain itself: its events are applied to the episode as
    it stood before them (kept in a small cache, or read back at that version), so the clocks
    here are exactly the aggregate's. An episode this process has just saved (`saved`) is taken
    as it was saved, past every event it holds, instead of being read back and replayed: a
    write's catch-up, and the sweep's after each batch, read no history.
    """

    name = "episodes"
    topics = topics_of(Episode)
    tables = ["ehqa_episodes", "ehqa_clocks", "ehqa_alerts"]
    clears = [
        "DELETE FROM ehqa_episodes",
        f"DELETE FROM ehqa_clocks WHERE clock <> '{ClockName.AUDIT_ACTIONS.value}'",
        f"DELETE FROM ehqa_alerts WHERE clock NOT IN ('{ClockName.AUDIT_ACTIONS.value}', '{SAFEGUARDING}')",
    ]

    def __init__(
        self,
        load: Callable[[UUID, int], Episode],
        policy: Callable[[str], Policy],
        calendar: WorkingCalendar,
        cache_size: int = 20_000,
    ) -> None:
        self._load = load
        self._policy = policy
        self._calendar = calendar
        self._cache: OrderedDict[UUID, Episode] = OrderedDict()
        self._cache_size = cache_size
        self._saved: OrderedDict[UUID, Episode] = OrderedDict()  # (copies, as saved: `saved`)
        self._saving = threading.Lock()  # (a server's threads save at once)
        self.derivations = 0  # clock derivations (each derives one episode's clocks): a counter

    def prepare(self, batch: Batch) -> EpisodeRows:
        """Replay the batch into the episodes it touches; then derive each one's rows once.

        However many of an episode's events the batch holds, its rows are derived and written
        once per batch, which is why a rebuild reads the log in large batches. The batch ends
        early once it has touched as many episodes as the cache holds.
        """
        touched: dict[UUID, Any] = {}
        opened: dict[UUID, int] = {}  # episodes the batch opens, with their first event's id
        ahead: dict[UUID, list[int]] = {}  # taken as saved: [its version, the last one met]
        for seq, event in batch:
            episode_id, version = event.originator_id, event.originator_version
            if version == 1:
                opened[episode_id] = seq
            aggregate = touched.get(episode_id)
            if aggregate is None and (saved := self._as_saved(episode_id, version)) is not None:
                touched[episode_id], ahead[episode_id] = saved, [saved.version, version]
            elif episode_id in ahead and version <= ahead[episode_id][0]:
                ahead[episode_id][1] = version  # (already in the episode as it was saved)
            else:
                if aggregate is None:
                    aggregate = self._before(episode_id, version)
                ahead.pop(episode_id, None)  # (past the save: the episode as the events leave it)
                try:
                    touched[episode_id] = cast(Any, event).mutate(aggregate)
                except Exception:
                    self._cache.pop(episode_id, None)  # (maybe half-changed; the batch is retried)
                    raise
            if len(touched) >= self._cache_size:
                break
        for episode_id, (saved_at, met) in ahead.items():
            if met < saved_at:  # (the batch ended short of the save: the episode as at its end)
                touched[episode_id] = self._load(episode_id, met)
        rows = EpisodeRows()
        for episode_id, episode in touched.items():
            self._remember(episode)
            self._add_rows(rows, episode, opened.get(episode_id))
        return rows

    def replay(self, histories: Sequence[History]) -> EpisodeRows:
        """Replay each episode's whole history, then derive its rows: once per rebuild.

        Raises at the first event that does not follow the one before it (one was left out as
        undecodable) or cannot be applied, and if a row cannot be derived: the runner then
        takes the histories one at a time, and event by event where one fails.
        """
        rows = EpisodeRows()
        for history in histories:
            episode: Any = None
            for _, event in history.events:
                expected = 1 if episode is None else episode.version + 1
                if event.originator_version != expected:
                    raise ValueError(f"version {event.originator_version} follows {expected - 1}")
                episode = cast(Any, event).mutate(episode)
            if episode is not None:
                self._add_rows(rows, episode, history.opened)
        return rows

    def replay_stepwise(self, history: History) -> Iterator[tuple[int, EpisodeRows | Exception]]:
        """Event by event, as catch-up isolates the events of a failed batch: the episode as it
        stood before each event comes from the event before (or is read back at that version,
        as `prepare` does), so an event after one that failed fails in the same way."""
        episode: Episode | None = None
        for seq, event in history.events:
            version = event.originator_version
            outcome: EpisodeRows | Exception
            try:
                before = None if version == 1 else episode
                if version > 1 and (episode is None or episode.version != version - 1):
                    before = self._load(event.originator_id, version - 1)
                try:
                    episode = cast(Any, event).mutate(before)
                except Exception:
                    episode = None  # (it may be half-changed)
                    raise
                assert episode is not None
                outcome = EpisodeRows()
                self._add_rows(outcome, episode, history.opened if version == 1 else None)
            except Exception as error:
                outcome = error
            yield seq, outcome

    def _add_rows(self, rows: EpisodeRows, episode: Episode, opened: int | None) -> None:
        """The episode's rows: new (with the id of its first event) or changed."""
        summary = self._summary(episode)
        if opened is not None:
            rows.new.append((*summary, opened))
        else:
            rows.changed.append((*summary[1:], episode.reference))
        rows.clocks += self._clock_rows(episode)
        rows.alerts += self._alert_rows(episode)

    def process(self, cur: Cursor, rows: EpisodeRows) -> None:
        changed = [(row[-1],) for row in rows.changed]
        cur.insert_rows("ehqa_episodes", EPISODE_COLUMNS, rows.new)
        cur.executemany(
            "UPDATE ehqa_episodes SET child = ?, state = ?, lead_name = ?, lead_agency = ?,"
            " lead_subject = ?, policy = ?, origin = ?, pre_birth = ?, opened_on = ?, consent_agencies = ?,"
            " closed_on = ?, closed_reason = ?, closure_summary = ?, version = ?"
            " WHERE reference = ?",
            rows.changed,
        )
        cur.executemany("DELETE FROM ehqa_clocks WHERE reference = ?", changed)
        cur.executemany("DELETE FROM ehqa_alerts WHERE reference = ?", changed)
        cur.insert_rows("ehqa_clocks", CLOCK_COLUMNS, rows.clocks)
        cur.insert_rows("ehqa_alerts", ALERT_COLUMNS, rows.alerts)

    def saved(self, aggregates: Iterable[Any]) -> None:
        """Episodes just saved (their events committed), kept (copied: the saver may go on
        changing its own) until a catch-up meets their events; at most SAVED_KEPT of them."""
        copies = [copy.deepcopy(a) for a in aggregates if isinstance(a, Episode)]
        with self._saving:
            for episode in copies:
                self._saved[episode.id] = episode
                self._saved.move_to_end(episode.id)
            while len(self._saved) > SAVED_KEPT:
                self._saved.popitem(last=False)

    def _as_saved(self, episode_id: UUID, version: int) -> Episode | None:
        """The episode as this process saved it, if that save holds the event at `version`."""
        with self._saving:
            saved = self._saved.pop(episode_id, None)
        if saved is None or version <= saved.version:
            return saved
        if version == saved.version + 1:  # (saved before the events met now: their start)
            self._remember(saved)
        return None

    def _before(self, episode_id: UUID, version: int) -> Episode | None:
        if version == 1:
            return None
        cached = self._cache.get(episode_id)
        if cached is not None and cached.version == version - 1:
            return cached
        return self._load(episode_id, version - 1)

    def _remember(self, episode: Episode) -> None:
        self._cache[episode.id] = episode
        self._cache.move_to_end(episode.id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    @staticmethod
    def summary(episode: Episode) -> tuple[Any, ...]:
        """The episode's row of the episodes view."""
        return EpisodesProjection._summary(episode)

    @staticmethod
    def _summary(episode: Episode) -> tuple[Any, ...]:
        lead = episode.lead or {}
        return (
            episode.reference,
            episode.child,
            episode.state.value,
            lead.get("name"),
            lead.get("agency"),
            lead.get("subject"),
            episode.policy,
            episode.origin.value,
            int(episode.pre_birth),
            episode.opened_on.isoformat(),
            json.dumps(episode.consent_agencies),
            _iso(episode.closed_on),
            episode.closed_reason and episode.closed_reason.value,
            episode.closure_summary,
            episode.version,
        )

    @staticmethod
    def _alert_rows(episode: Episode) -> list[tuple[Any, ...]]:
        lead = episode.lead or {}
        return [
            (ident, episode.reference, a["clock"], a["occurrence"], a["rung"],
             a["fell_due_on"].isoformat(), a["raised_on"].isoformat(),
             json.dumps(a["recipients"]), a["acknowledged_by"], _iso(a["acknowledged_on"]),
             _iso(a["cleared_on"]), lead.get("name"), lead.get("agency"), lead.get("subject"))
            for ident, a in episode.alerts.items()
        ]  # fmt: skip

    def _clock_rows(self, episode: Episode) -> list[tuple[Any, ...]]:
        """Every clock occurrence, with the next alert rung still to raise while it runs."""
        self.derivations += 1
        lead = episode.lead or {}
        policy = self._policy(episode.policy)
        raised: dict[tuple[str, int], set[Rung]] = {}
        for alert in episode.alerts.values():
            raised.setdefault((alert["clock"], alert["occurrence"]), set()).add(Rung(alert["rung"]))
        reference, is_open, calendar = episode.reference, episode.is_open, self._calendar
        name, agency, policy_name = lead.get("name"), lead.get("agency"), episode.policy
        rows = []
        for seq, (span, due) in enumerate(due_dates(episode.facts, policy, calendar)):
            clock, stopped, closed = span.clock, span.stopped_on, span.closed_on
            exceptions = span.exceptions
            following = None
            if stopped is None and closed is None and (is_open or clock in AFTER_CLOSURE):
                rungs = raised.get((clock.value, span.occurrence), set())
                following = ladder(due, policy.escalation, calendar).next_after(rungs)
            rows.append((
                reference, CLOCK_NAMES[clock], span.occurrence, span.started_on.isoformat(),
                due.isoformat(), stopped and stopped.isoformat(), closed and closed.isoformat(),
                json.dumps([(on.isoformat(), reason) for on, reason in exceptions])
                if exceptions else "[]",
                name, agency, policy_name, seq,
                following and following[1].isoformat(), following and following[0].value,
            ))  # fmt: skip
        return rows
