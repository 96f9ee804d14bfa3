"""A rebuild reads each timeline row from the stored JSON (`StoredDescriber`); the row, or the
failure, is the one the live follower makes of the decoded event, for every event and for
stored JSON the simulator never writes (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

from eventsourcing.persistence import Notification

from ehqa.services import Services
from ehqa.simulate import simulate
from projections.described import StoredDescriber
from projections.histories import Stored
from projections.views import NEEDS, ChildrenProjection, Fact, TimelineProjection

from ..conftest import SIM_TODAY

START = date(2024, 11, 20)


def outcome(make: Callable[[], Any]) -> tuple[Any, ...]:
    try:
        return ("made", make())
    except Exception as error:
        return ("failed", type(error).__name__, str(error))


def both_ways(services: Services, stored: Stored) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """The row a rebuild reads from the stored JSON, and the one the live follower makes."""
    mapper = services.app.mapper
    reader = TimelineProjection().reader(mapper)
    live = TimelineProjection._row
    return (
        outcome(lambda: reader(stored)),
        outcome(lambda: live(mapper.to_domain_event(stored))),  # type: ignore[arg-type]
    )


def stored_of(notification: Notification, state: bytes | None = None) -> Stored:
    return Stored(notification.id, notification.originator_id,  # type: ignore[arg-type]
                  notification.originator_version, notification.topic,
                  notification.state if state is None else state)  # fmt: skip


def timeline_log(services: Services) -> list[Notification]:
    topics = services.projection("timeline").topics
    return list(services.app.recorder.select_notifications(start=1, limit=10**6, topics=topics))


def test_every_simulated_event_is_read_from_its_json_into_the_live_followers_row(
    services: Services,
) -> None:
    simulate(services.app, 40, 5, START, SIM_TODAY, interleaved=True)
    describer = StoredDescriber(services.app.mapper)
    log = timeline_log(services)
    assert len({n.topic for n in log}) > 10
    for notification in log:
        stored = stored_of(notification)
        fast, live = both_ways(services, stored)
        assert fast == live and fast[0] == "made", notification
        assert describer._read(stored) is not None  # (read from the JSON, not decoded)


def variants(state: dict[str, Any]) -> dict[str, bytes]:
    """Stored JSON the simulator never writes, made from one event's."""

    def written(value: dict[str, Any], ascii_only: bool = False) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_only).encode()

    def at(end: str) -> dict[str, str]:
        return {"_type_": "datetime_iso", "_data_": f"2026-01-02T03:04:{end}"}

    date_iso = {"_type_": "date_iso", "_data_": "2025-02-03"}
    no_author = {k: v for k, v in state.items() if k != "author"}
    return {
        "another date": written({**state, "until": date_iso}),
        "a date inside a list": written({**state, "dates": [date_iso]}),
        "a date inside a mapping": written({**state, "when": {"first": date_iso}}),
        "no author": written(no_author),
        "text with escapes": written({**state, "note": 'café \u0001 "q" \\u'}, ascii_only=True),
        "an escaped transcoded key": b'"\\u005ftype_"'.join(  # (the last one: the list's)
            written({**state, "x": [date_iso]}).rsplit(b'"_type_"', 1)
        ),
        "a uuid": written({**state, "who": {"_type_": "uuid_hex", "_data_": "0" * 32}}),
        "a time as isoformat never writes it": written(
            {**state, "timestamp": at("00.000000+00:00")}
        ),
        "a time in another zone": written({**state, "timestamp": at("00-00:00")}),
        "a mapping with a _type_ key": written({**state, "lead": {"_type_": "x", "name": "y"}}),
        "a float and a big number": written({**state, "score": 0.1, "big": 10**30}),
        "no business date": written({k: v for k, v in state.items() if k != "on"}),
        "not json": b'{"this is not": json',
        "not a mapping": b"[1, 2]",
    }


def test_stored_json_the_simulator_never_writes_gives_the_live_followers_row_or_failure(
    services: Services,
) -> None:
    simulate(services.app, 3, 6, START, SIM_TODAY)
    first = timeline_log(services)[0]
    state = json.loads(first.state)
    assert "author" in state and "on" in state
    outcomes = {}
    for name, odd in variants(state).items():
        fast, live = both_ways(services, stored_of(first, odd))
        assert fast == live, name
        outcomes[name] = fast[0]
    assert outcomes["another date"] == outcomes["no author"] == "made"
    # (a date inside a list, or a uuid, decoded: the body's text writes them as text)
    assert outcomes["a date inside a list"] == outcomes["a uuid"] == "made"
    assert outcomes["a float and a big number"] == "made"  # (the big number: by `dumps`)
    assert outcomes["not json"] == outcomes["not a mapping"] == "failed"


def test_the_children_replay_reads_what_the_decoded_events_say_or_decodes_them(
    services: Services,
) -> None:
    simulate(services.app, 20, 7, START, SIM_TODAY)
    mapper = services.app.mapper
    read = ChildrenProjection().reader(mapper)
    topics = services.projection("children").topics
    log = list(services.app.recorder.select_notifications(start=1, limit=10**6, topics=topics))
    kinds = set()
    for notification in log:
        fact, event = read(stored_of(notification)), mapper.to_domain_event(notification)
        assert type(fact) is Fact  # (read from the JSON, not decoded)
        assert (fact.kind, fact.originator_id) == (type(event).__name__, event.originator_id)
        if fact.kind in NEEDS:
            assert getattr(fact, NEEDS[fact.kind]) == getattr(event, NEEDS[fact.kind])
        kinds.add(fact.kind)
    assert {"Registered", "EpisodeOpened"} <= kinds
    first = next(n for n in log if n.topic.endswith(".Registered"))
    state = json.loads(first.state)
    date_iso = {"_type_": "date_iso", "_data_": "2025-02-03"}
    odd = {
        "no child": {k: v for k, v in state.items() if k != "child"},
        "a transcoded child": {**state, "child": date_iso},
        "a date inside a list": {**state, "dates": [date_iso]},
        "a time that cannot be read": {**state, "timestamp": {**date_iso, "_type_": "datetime_iso",
                                                               "_data_": "2026-13-45"}},
    }  # fmt: skip
    for name, value in odd.items():
        stored = stored_of(first, json.dumps(value, separators=(",", ":")).encode())
        fast = outcome(lambda: read(stored))  # noqa: B023
        live = outcome(lambda: mapper.to_domain_event(stored))  # type: ignore[arg-type]  # noqa: B023
        assert type(fast[-1]) is not Fact, name
        if fast[0] == live[0] == "made":  # (the same event: its class and fields)
            fast, live = ((type(e).__name__, vars(e)) for e in (fast[1], live[1]))
        assert fast == live, name
