"""An event a view cannot decode or apply is dead-lettered for that view and skipped: the views
carry on (catch-up, follow and rebuild alike), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from aggregates.episode import episode_id
from ehqa.api import create_app
from ehqa.services import Services
from ehqa.simulate import references, simulate
from ehqa.store import postgres_conninfo, store_env
from projections.runner import clears, follow, position

from ..conftest import SIM_TODAY, dump_views

START = date(2024, 11, 20)
GARBAGE = b'{"this is not": json'


def on_log(services: Services, sql: str, params: tuple[Any, ...]) -> None:
    """Run SQL on the event store's own table (`stored_events` is its name on SQLite), as an
    earlier release's bad write would have."""
    env = store_env(services.database_url)
    sql = sql.replace("stored_events", services.app.recorder.events_table_name)  # type: ignore[attr-defined]
    if env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite":
        values = tuple(p.hex if isinstance(p, UUID) else p for p in params)
        with sqlite3.connect(env["SQLITE_DBNAME"]) as conn:
            conn.execute(sql.replace("%s", "?"), values)
        conn.close()
        return
    options = f"-c search_path={env['POSTGRES_SCHEMA']}"
    with psycopg.connect(postgres_conninfo(env), autocommit=True, options=options) as pg:
        pg.execute(sql, params)


def on_postgres(services: Services) -> bool:
    return services.database_url.startswith("postgres")


def plant_bad_events(services: Services, victim: str) -> tuple[UUID, UUID]:
    """Make the victim's second event undecodable, and add an undecodable event of a new
    episode at the end of the log. Returns (victim id, orphan id)."""
    victim_id, orphan = episode_id(victim), uuid.uuid4()
    topic = next(
        t for t in services.projection("episodes").topics if t.endswith(".ExceptionRecorded")
    )
    on_log(services, "UPDATE stored_events SET state = %s WHERE originator_id = %s AND originator_version = 2",
           (GARBAGE, victim_id))  # fmt: skip
    on_log(services, "INSERT INTO stored_events (originator_id, originator_version, topic, state)"
           " VALUES (%s, 1, %s, %s)", (orphan, topic, GARBAGE))  # fmt: skip
    return victim_id, orphan


def empty_views(services: Services) -> None:
    """What the start of a rebuild does: every view empty, at position 0."""
    with services.views.transaction() as cur:
        for projection in services.projections:
            for statement in clears(projection):
                cur.execute(statement)
        cur.execute("DELETE FROM ehqa_tracking")
        cur.execute("DELETE FROM ehqa_dead_letters")


def without(
    rows: dict[str, list[tuple[Any, ...]]], reference: str
) -> dict[str, list[tuple[Any, ...]]]:
    """Every view row that is not about the episode `reference`."""
    key = {"ehqa_episodes": 0, "ehqa_clocks": 0, "ehqa_alerts": 1}
    ident = episode_id(reference).hex
    return {
        table: [r for r in found if r[key.get(table, 0)] not in (reference, ident)]
        if table in (*key, "ehqa_timeline") else found
        for table, found in rows.items()
    }  # fmt: skip


def letters(services: Services) -> set[tuple[Any, ...]]:
    """The dead letters, without the time each was recorded."""
    return {(d.view, d.notification_id, d.originator_id, d.originator_version, d.topic, d.reason)
            for d in services.dead_letters()}  # fmt: skip


def caught_up(services: Services) -> None:
    for found in services.status():
        assert not found.pending, found


def follow_once(services: Services) -> None:
    """Run `follow` until every view has reached the end of its part of the log."""
    stop = threading.Event()
    thread = threading.Thread(target=follow, args=(services.app, services.views, services.projections, stop, 0.05),
                              daemon=True)  # fmt: skip
    ends = {p.name: services.app.recorder.select_notifications(1, 10**6, topics=p.topics)[-1].id
            for p in services.projections if services.app.recorder.select_notifications(1, 1, topics=p.topics)}  # fmt: skip
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while any(position(services.views, name) < end for name, end in ends.items()):
            assert thread.is_alive(), "follow stopped"
            assert time.monotonic() < deadline, "follow did not get past the bad events"
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=15)
    assert not thread.is_alive()


@pytest.mark.parametrize("how", ["catch-up", "follow", "rebuild"])
def test_undecodable_events_are_dead_lettered_and_every_view_carries_on(
    services: Services, how: str
) -> None:
    simulate(services.app, 20, 11, START, SIM_TODAY)
    refs = list(references(11, 20))
    services.catch_up()
    clean = dump_views(services)
    victim = refs[3]
    history = services.app.repository.event_store.get(episode_id(victim))
    victim_events = [(e.originator_version, type(e).__name__) for e in history]
    assert len(victim_events) > 3 and victim_events[1][1] != "AlertRaised"
    victim_id, orphan = plant_bad_events(services, victim)
    if how == "rebuild":
        for projection in services.projections:
            services.rebuild(projection.name)
    else:
        empty_views(services)
        services.catch_up() if how == "catch-up" else follow_once(services)

    caught_up(services)
    # every other episode's rows, the children, the outbox and the audits are as before
    assert without(dump_views(services), victim) == without(clean, victim)
    # the timeline skips only the undecodable event; the episodes view cannot replay the victim
    # past it, so keeps its rows as they were after version 1 and skips its later events
    timeline = services.read.timeline(victim)
    assert len(timeline) == len(victim_events) - 1
    view = services.read.episode(victim)
    assert view is not None and view["version"] == 1
    found = services.dead_letters()
    assert all(d.reason and "Error" in d.reason for d in found)
    by_view = {(d.view, d.originator_id, d.originator_version) for d in found}
    assert by_view == {
        ("timeline", victim_id.hex, 2), ("timeline", orphan.hex, 1), ("episodes", orphan.hex, 1),
        *(("episodes", victim_id.hex, version) for version, _ in victim_events[1:]),
    }  # fmt: skip
    counts = {s.name: s.dead_letters for s in services.status()}
    assert counts == {
        "episodes": len(victim_events),
        "timeline": 2,
        "children": 0,
        "outbox": 0,
        "audits": 0,
    }


def nul_episodes(services: Services) -> None:
    """Two episodes, one whose exception reason and closure summary hold NUL (recorded through
    the domain, as a release without edge validation would have)."""
    app = services.app
    for ref, text in (("EH-NUL", "a\u0000b"), ("EH-OK", "a b")):
        app.open_episode(
            ref, child=f"C-{ref}", lead_name="Jo", lead_agency="school", on=date(2026, 1, 5)
        )
        app.change(ref, lambda e, t: e.record_consent(["school"], date(2026, 1, 6), t))
        app.change(
            ref,
            lambda e, t, x=text: e.record_exception("assessment", f"late {x}", date(2026, 1, 7), t),
        )
        app.change(
            ref, lambda e, t, x=text: e.close("no_further_action", f"done {x}", date(2026, 1, 8), t)
        )


def test_text_holding_nul_is_dead_lettered_on_postgresql_and_applied_on_sqlite(
    services: Services,
) -> None:
    simulate(services.app, 10, 11, START, SIM_TODAY)
    nul_episodes(services)
    services.catch_up()
    caught_up(services)
    for ref in ("EH-OK", *references(11, 10)):
        episode, view = services.app.get_episode(ref), services.read.episode(ref)
        assert view is not None and (view["version"], view["state"]) == (
            episode.version,
            episode.state.value,
        )
        assert services.read.timeline(ref) == services.app.timeline(ref)
    episode, view = services.app.get_episode("EH-NUL"), services.read.episode("EH-NUL")
    assert view is not None
    found = {(d.view, d.originator_version): d.reason for d in services.dead_letters()}
    if not on_postgres(services):  # SQLite text holds NUL: nothing is dead-lettered
        assert found == {}
        assert view["version"] == episode.version and view["closure_summary"] == "done a\u0000b"
        assert services.read.timeline("EH-NUL") == services.app.timeline("EH-NUL")
        return
    # PostgreSQL: the timeline cannot write the exception's label (the reason, verbatim); the
    # episodes view keeps the reason (as JSON, where NUL is escaped) but cannot write the closure
    # summary, so the episode's rows stay as they were before the closure
    assert set(found) == {("timeline", 3), ("episodes", 4)}
    assert all("NUL" in reason or "0x00" in reason for reason in found.values()), found
    assert all("\x00" not in reason for reason in found.values())
    assert view["version"] == 3 and view["state"] != "closed"
    timeline = services.read.timeline("EH-NUL")
    assert [e["event"] for e in timeline] == [e["event"] for e in services.app.timeline("EH-NUL")
                                             if e["event"] != "ExceptionRecorded"]  # fmt: skip
    exceptions = [
        r.entry.exception for r in services.read.deadlines("EH-NUL", SIM_TODAY) if r.entry.exception
    ]
    assert exceptions == ["late a\x00b"]  # (kept verbatim: it round-trips through JSON)


def test_a_rebuild_leaves_the_same_dead_letters_and_views_as_catching_up(
    services: Services,
) -> None:
    simulate(services.app, 15, 11, START, SIM_TODAY)
    plant_bad_events(services, next(iter(references(11, 15))))
    services.catch_up()  # (the bad events among the first wave)
    nul_episodes(services)
    simulate(services.app, 15, 12, START, SIM_TODAY)
    services.catch_up()
    incremental, dead = dump_views(services), letters(services)
    assert dead
    for projection in services.projections:
        services.rebuild(projection.name)
    assert dump_views(services) == incremental
    assert letters(services) == dead
    assert len(services.dead_letters()) == len(dead)  # none twice
    services.catch_up()  # (and catching up again adds none)
    assert len(services.dead_letters()) == len(dead)
    # rebuilding in batches that end early (small batches) comes to the same
    services.rebuild("episodes", batch_size=7)
    assert dump_views(services) == incremental and letters(services) == dead

    status = subprocess.run([sys.executable, "-m", "ehqa", "--db", services.database_url, "projections", "status",
                             "--json"], capture_output=True, text=True, check=True)  # fmt: skip
    counts = {row["name"]: row["dead_letters"] for row in json.loads(status.stdout)}
    assert counts == {s.name: s.dead_letters for s in services.status()} and counts["episodes"] > 0
    listed = subprocess.run([sys.executable, "-m", "ehqa", "--db", services.database_url, "projections",
                             "dead-letters", "--view", "timeline", "--json"], capture_output=True, text=True, check=True)  # fmt: skip
    assert {(d["view"], d["notification_id"]) for d in json.loads(listed.stdout)} == {
        (d.view, d.notification_id) for d in services.dead_letters("timeline")
    }


def test_ready_answers_200_and_reports_the_dead_letters(store_url: str) -> None:
    services = Services(store_url)
    try:
        simulate(services.app, 5, 11, START, SIM_TODAY)
        nul_episodes(services)
        victim = next(iter(references(11, 5)))
        plant_bad_events(services, victim)
        app = create_app(services)
        token = app.state.api.tokens.create("Partnership co-ordinator", Role.COORDINATOR, None)
        with TestClient(app) as http:
            ready = http.get("/ready")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "ready"
            assert body["dead_letters"] == {s.name: s.dead_letters for s in services.status()}
            assert body["dead_letters"]["timeline"] >= 2 and body["dead_letters"]["episodes"] >= 2
            headers = {"Authorization": f"Bearer {token}"}
            other = http.get("/episodes/EH-OK", headers=headers)
            assert other.status_code == 200 and other.json()["state"] == "closed"
            assert http.get("/episodes/EH-OK/timeline", headers=headers).status_code == 200
            assert http.get("/drift", headers=headers).status_code == 200
    finally:
        services.close()


def test_a_failure_of_the_store_itself_is_raised_never_dead_lettered(store_url: str) -> None:
    """A missing grant, a corrupt file or a lost table is the store's fault, not an event's:
    dead-lettering it would skip the whole log while /ready said all was well."""
    services = Services(store_url)
    try:
        simulate(services.app, 5, 11, START, SIM_TODAY)
        timeline = services.projection("timeline")
        broken = psycopg.ProgrammingError if on_postgres(services) else sqlite3.DatabaseError

        def process(*_: Any, **__: Any) -> None:
            raise broken("permission denied for table ehqa_timeline")

        timeline.process = process  # type: ignore[method-assign]
        with pytest.raises(broken):
            services.catch_up_one("timeline")
        assert services.views.query("SELECT COUNT(*) FROM ehqa_dead_letters")[0][0] == 0
        assert position(services.views, "timeline") == 0
    finally:
        services.close()
