"""Tamper evidence on both stores: rows edited, deleted, inserted and reordered by raw SQL in the
real SQLite file or PostgreSQL tables are each caught by `verify`, which names the episode and the
position; a log rewritten consistently (every hash recomputed) is caught only with the digests."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aggregates.episode import episode_id
from ehqa import demo
from ehqa.application import EhqaApplication
from ehqa.chain import ZERO, as_bytes, event_hash, log_hash, originator_text, seal
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.store import postgres_conninfo, store_env
from ehqa.trail import daily_digest, verify, write_digest

DAY = date(2026, 11, 20)
SPAWN = multiprocessing.get_context("spawn")
EPISODE = "DEMO-0001"


class Raw:
    """Raw SQL on the store's own tables, as someone with the database's password would."""

    def __init__(self, url: str) -> None:
        self.env = store_env(url)
        self.postgres = self.env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
        self.conn: Any
        if self.postgres:
            schema = self.env["POSTGRES_SCHEMA"]
            self.conn = psycopg.connect(
                postgres_conninfo(self.env), options=f"-c search_path={schema}", autocommit=True
            )
            self.events, self.nid = "ehqa_events", "notification_id"
        else:
            self.conn = sqlite3.connect(self.env["SQLITE_DBNAME"], isolation_level=None)
            self.events, self.nid = "stored_events", "rowid"

    def run(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        cursor = self.conn.execute(statement.replace("?", "%s" if self.postgres else "?"), params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def position(self, reference: str, version: int) -> int:
        oid = episode_id(reference)
        key = oid if self.postgres else oid.hex
        found = self.run(
            f"SELECT {self.nid} FROM {self.events} WHERE originator_id = ?"
            " AND originator_version = ?",
            (key, version),
        )
        return int(found[0][0])

    def renumber(self, nid: int, to: int) -> None:
        self.run(f"UPDATE {self.events} SET {self.nid} = ? WHERE {self.nid} = ?", (to, nid))

    def rechain(self) -> None:
        """Recompute every chain row from the events as they now are: a rewrite by someone who
        knows the algorithm (it is documented)."""
        rows = self.run(
            f"SELECT {self.nid}, originator_id, originator_version, topic, state"
            f" FROM {self.events} ORDER BY {self.nid}"
        )
        self.run("DELETE FROM ehqa_chain")
        last: dict[tuple[str, int], bytes] = {}
        running = ZERO
        for nid, originator, version, topic, state in rows:
            oid = originator_text(originator)
            prev = last.get((oid, version - 1), ZERO)
            digest = event_hash(prev, oid, version, topic, as_bytes(state))
            last[(oid, version)], running = digest, log_hash(running, nid, digest)
            self.run(
                "INSERT INTO ehqa_chain VALUES (?, ?, ?, ?, ?, ?)",
                (nid, oid, version, prev, digest, running),
            )

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def caseload(store_url: str) -> Iterator[Raw]:
    """The demo caseload recorded through the real application, its views caught up."""
    services = Services(store_url, clock=fixed(DAY))
    demo.build(services.app)
    services.catch_up()
    services.close()
    raw = Raw(store_url)
    yield raw
    raw.close()


def first_break(raw: Raw, **options: Any) -> tuple[str, int, int | None, str | None]:
    outcome, name = verify(raw.env, **options)
    assert outcome.broken is not None, "verify found no break"
    return outcome.broken.kind, outcome.broken.position, outcome.broken.version, name


def test_a_store_as_recorded_verifies_whole_and_each_episode_alone(caseload: Raw) -> None:
    outcome, _ = verify(caseload.env)
    events = caseload.run(f"SELECT COUNT(*) FROM {caseload.events}")[0][0]
    assert outcome.broken is None and outcome.events == events > 40
    alone, _ = verify(caseload.env, episode=EPISODE)
    assert alone.broken is None and 5 <= alone.events < events


def test_an_edited_event_is_named_by_episode_and_position(caseload: Raw) -> None:
    nid = caseload.position(EPISODE, 3)
    cast = "CAST(? AS bytea)" if caseload.postgres else "?"
    caseload.run(
        f"UPDATE {caseload.events} SET state = state || {cast} WHERE {caseload.nid} = ?",
        (b" ", nid),
    )
    assert first_break(caseload) == ("edited", nid, 3, f"episode {EPISODE}")
    assert first_break(caseload, episode=EPISODE) == ("edited", nid, 3, f"episode {EPISODE}")


def test_a_deleted_event_is_caught_with_or_without_its_chain_row(caseload: Raw) -> None:
    nid = caseload.position(EPISODE, 4)
    caseload.run(f"DELETE FROM {caseload.events} WHERE {caseload.nid} = ?", (nid,))
    assert first_break(caseload) == ("deleted", nid, 4, f"episode {EPISODE}")
    caseload.run("DELETE FROM ehqa_chain WHERE notification_id = ?", (nid,))
    kind, position, version, name = first_break(caseload, episode=EPISODE)
    assert (kind, version, name) == ("deleted", 4, f"episode {EPISODE}")
    assert position == caseload.position(EPISODE, 5)


def test_an_inserted_event_is_caught(caseload: Raw) -> None:
    nid = caseload.position(EPISODE, 2)
    columns = "originator_id, originator_version, topic, state"
    caseload.run(
        f"INSERT INTO {caseload.events} ({columns}) SELECT originator_id, 99, topic, state"
        f" FROM {caseload.events} WHERE {caseload.nid} = ?",
        (nid,),
    )
    kind, position, version, name = first_break(caseload)
    assert (kind, version, name) == ("inserted", 99, f"episode {EPISODE}")
    assert position > nid


def test_reordered_events_are_caught_by_version_and_by_place_in_the_log(caseload: Raw) -> None:
    third, fourth = caseload.position(EPISODE, 3), caseload.position(EPISODE, 4)
    swap = f"UPDATE {caseload.events} SET originator_version = ? WHERE {caseload.nid} = ?"
    caseload.run(swap, (-3, third))
    caseload.run(swap, (3, fourth))
    caseload.run(swap, (4, third))
    assert first_break(caseload) == ("reordered", third, 4, f"episode {EPISODE}")
    caseload.run(swap, (-3, third))  # (put back, then swap their places in the log instead)
    caseload.run(swap, (4, fourth))
    caseload.run(swap, (3, third))
    assert verify(caseload.env)[0].broken is None
    caseload.renumber(third, 1_000_000)
    caseload.renumber(fourth, third)
    caseload.renumber(1_000_000, fourth)
    assert first_break(caseload) == ("reordered", third, 4, f"episode {EPISODE}")


def test_a_log_rewritten_with_every_hash_recomputed_is_caught_only_by_the_digests(
    caseload: Raw, tmp_path: Path
) -> None:
    digests = tmp_path / "digests.jsonl"
    written = write_digest(caseload.env, digests, DAY, datetime(2026, 11, 20, 23, 59))
    assert verify(caseload.env, digest_file=digests)[0].digests == 1
    nid = caseload.position(EPISODE, 3)
    cast = "CAST(? AS bytea)" if caseload.postgres else "?"
    caseload.run(
        f"UPDATE {caseload.events} SET state = state || {cast} WHERE {caseload.nid} = ?",
        (b" ", nid),
    )
    caseload.rechain()
    assert verify(caseload.env)[0].broken is None  # the chain alone cannot tell
    kind, position, _, _ = first_break(caseload, digest_file=digests)
    assert (kind, position) == ("rewritten", written.position)


def test_a_log_cut_short_is_caught_by_the_digests(caseload: Raw, tmp_path: Path) -> None:
    digests = tmp_path / "digests.jsonl"
    written = write_digest(caseload.env, digests, DAY, datetime(2026, 11, 20, 23, 59))
    caseload.run(f"DELETE FROM {caseload.events} WHERE {caseload.nid} = ?", (written.position,))
    caseload.run("DELETE FROM ehqa_chain WHERE notification_id = ?", (written.position,))
    assert verify(caseload.env)[0].broken is None  # the last row went with its chain row
    assert first_break(caseload, digest_file=digests)[:2] == ("deleted", written.position)


def test_a_store_made_before_the_chain_is_sealed_in_resumable_batches(store_url: str) -> None:
    services = Services(store_url, clock=fixed(DAY))
    demo.build(services.app)
    raw = Raw(store_url)
    try:
        before = verify(raw.env)[0]
        raw.run("DELETE FROM ehqa_chain")  # as a release without the chain left it
        assert first_break(raw)[0] == "inserted"
        assert list(seal(services.app.recorder, batch=20))[:2] == [20, 20]
        after = verify(raw.env)[0]
        assert after.broken is None and after.root == before.root
        raw.run("DELETE FROM ehqa_chain WHERE notification_id > 30")  # stopped part way ...
        assert sum(seal(services.app.recorder)) == after.events - 30  # ... and resumed
        assert verify(raw.env)[0].root == before.root
    finally:
        raw.close()
        services.close()


def test_the_daily_digest_is_written_once_for_the_day_that_ended(
    caseload: Raw, tmp_path: Path
) -> None:
    digests = tmp_path / "out" / "digests.jsonl"
    now = datetime(2026, 11, 21, 0, 5)
    first = daily_digest(caseload.env, digests, date(2026, 11, 21), now)
    assert first is not None and first.date == date(2026, 11, 20)
    assert daily_digest(caseload.env, digests, date(2026, 11, 21), now) is None
    assert len(digests.read_text().splitlines()) == 1
    assert digests.stat().st_mode & 0o077 == 0


def _open_many(url: str, worker: int, barrier: Any) -> None:
    app = EhqaApplication(store_env(url), clock=fixed(DAY))
    barrier.wait(timeout=60)
    for n in range(15):
        app.open_episode(
            f"EH-W{worker}-{n}", child=f"C-W{worker}-{n}", lead_name="Jo",
            lead_agency="school", on=date(2026, 1, 2),
        )  # fmt: skip
    app.close()


def test_writers_in_separate_processes_chain_in_one_order(store_url: str) -> None:
    EhqaApplication(store_env(store_url), clock=fixed(DAY)).close()  # (the tables, once)
    barrier = SPAWN.Barrier(3)
    workers = [SPAWN.Process(target=_open_many, args=(store_url, n, barrier)) for n in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    raw = Raw(store_url)
    try:
        outcome = verify(raw.env)[0]
        chained = raw.run("SELECT COUNT(*) FROM ehqa_chain")[0][0]
        assert outcome.broken is None and outcome.events == chained >= 90
    finally:
        raw.close()


def test_a_save_of_many_episodes_finds_their_previous_hashes_by_the_index(
    sqlite_url: str,
) -> None:
    """A save of many episodes at once (a sweep's batch) asks for their previous versions'
    hashes in one query: on SQLite each pair is found by the chain's index, never by a scan of
    the whole chain; and what such saves chain verifies."""
    from ehqa.chain import CHAIN_TABLE, ChainSQL

    services = Services(sqlite_url, clock=fixed(DAY))
    try:
        demo.build(services.app)
        services.catch_up()
        raised = services.sweep()  # (alerts on many demo episodes, saved in batches)
        assert raised and len({r.episode for r in raised}) > 1
        raw = Raw(sqlite_url)
        pairs = raw.run(f"SELECT originator_id, originator_version FROM {CHAIN_TABLE} LIMIT 3")
        args = tuple(part for pair in pairs for part in pair)
        sql = ChainSQL(CHAIN_TABLE, raw.events, "rowid", "?").previous_of(3)
        plan = " ".join(str(row[3]) for row in raw.run(f"EXPLAIN QUERY PLAN {sql}", args))
        assert "SCAN" not in plan and plan.count("USING INDEX") == 3, plan
        assert len(raw.run(sql, args)) == 3
        outcome, _ = verify(raw.env)
        raw.close()
        assert outcome.broken is None
    finally:
        services.close()
