"""A store written before the codec change reads, and rebuilds, exactly as it did.

Every release before `ehqa.codec` stored and read events with eventsourcing's own
`JSONTranscoder`. Here a store is written that way (that class, with ehqa's transcodings: the
current release's configuration, through the real commands, sweep and audits), its views caught
up; then it is opened with this release's transcoder, every stored event is read both ways, and
every view is rebuilt from zero and compared with what the old transcoder built.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import JSONTranscoder, Transcoder, TranscodingNotRegisteredError

from aggregates.programme import AuditKind
from ehqa import demo
from ehqa.application import EhqaApplication
from ehqa.clock import fixed
from ehqa.codec import OrjsonTranscoder
from ehqa.persistence import TrackedApplication
from ehqa.services import Services
from ehqa.simulate import simulate
from ehqa.store import store_env

from ..conftest import SIM_TODAY, dump_views


def library_transcoder(app: TrackedApplication) -> Transcoder:
    """The transcoder of every release before ehqa.codec: eventsourcing's own, ehqa's types."""
    transcoder = JSONTranscoder()
    app.register_transcodings(transcoder)
    return transcoder


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way down (1 == 1.0 == True would not do)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture
def written_before(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A store written with the library's transcoder (simulated episodes, the demo, an alert
    sweep, an acknowledged alert and an audit), and the views it built."""
    monkeypatch.setattr(TrackedApplication, "construct_transcoder", library_transcoder)
    before = Services(store_url, clock=fixed(SIM_TODAY))
    try:
        assert type(before.app.mapper.transcoder) is JSONTranscoder
        assert simulate(before.app, 40, 5, date(2025, 1, 6), SIM_TODAY).refused == []
        demo.build(before.app, by="os:tester")
        raised = before.sweep(SIM_TODAY)
        assert raised
        before.app.acknowledge_alert(raised[0].id, "Jo Bright", by="os:tester")
        before.assign_audit("AU-1", episode="DEMO-0001", scheme="st_helens", auditor="Kate Evans",
                            reason="random sample", on=SIM_TODAY, kind=AuditKind.DETAILED.value)  # fmt: skip
        before.app.change_audit(
            "AU-1", lambda a, t: a.score("A1", 2, "seen in the record", SIM_TODAY, t)
        )
        before.catch_up()
        views = dump_views(before)
    finally:
        before.close()
    monkeypatch.undo()
    yield views


def test_a_store_written_with_the_librarys_transcoder_reads_the_same_type_for_type(
    store_url: str, written_before: dict[str, Any]
) -> None:
    app = EhqaApplication(store_env(store_url))  # (this release's transcoder)
    old = library_transcoder(app)
    assert type(app.mapper.transcoder) is OrjsonTranscoder
    notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
    topics = {n.topic.rsplit(".", 1)[-1] for n in notifications}
    # every kind of value the events hold: dates, datetimes, UUIDs; and many kinds of event
    names = {name for n in notifications for name in ("date_iso", "datetime_iso", "uuid_hex")
             if f'"_type_":"{name}"'.encode() in n.state}  # fmt: skip
    assert names == {"date_iso", "datetime_iso"} and len(topics) >= 20, (names, topics)
    assert {"AlertRaised", "AlertAcknowledged", "Assigned", "ItemScored"} <= topics
    for n in notifications:
        assert same(app.mapper.transcoder.decode(n.state), old.decode(n.state)), n.state
        event = app.mapper.to_domain_event(n)
        assert same(vars(event), vars(_decoded_with(app, old, n))), n.topic
    app.close()


def _decoded_with(app: EhqaApplication, transcoder: Transcoder, stored: Any) -> Any:
    mapper = app.factory.mapper(transcoder=transcoder, mapper_class=type(app.mapper))
    return mapper.to_domain_event(stored)


def test_every_view_rebuilt_from_a_store_written_before_is_what_it_was(
    store_url: str, written_before: dict[str, Any]
) -> None:
    services = Services(store_url, clock=fixed(SIM_TODAY))
    try:
        assert type(services.app.mapper.transcoder) is OrjsonTranscoder
        for projection in services.projections:
            services.rebuild(projection.name)
        assert dump_views(services) == written_before
    finally:
        services.close()


# ---- the transcoder by itself -----------------------------------------------------------------


def transcoders() -> tuple[JSONTranscoder, OrjsonTranscoder]:
    app = EhqaApplication({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ours = app.mapper.transcoder
    assert isinstance(ours, OrjsonTranscoder)
    return library_transcoder(app), ours  # type: ignore[return-value]


def test_it_writes_the_librarys_bytes_and_reads_every_registered_type_back() -> None:
    old, new = transcoders()
    value = {
        "on": date(2024, 2, 29), "at": datetime(2026, 1, 2, 3, 4, 5, 6).astimezone(),
        "id": uuid4(), "amount": Decimal("12.50"), "big": 2**70, "nan": float("inf"),
        "nested": [{"when": [date(2025, 1, 1), {"_type_": "not a pair", "x": 1}]}, 1.5, None],
        "pair": {"_type_": "x", "_data_": 1, "third": True}, "text": "caf\u00e9 \u2014 \U0001f600",
    }  # fmt: skip
    data = old.encode(value)
    assert new.encode(value) == data
    assert same(new.decode(data), old.decode(data))
    assert same(new.decode(data), value)
    plain = {k: v for k, v in value.items() if k not in ("big", "nan")}  # (read by orjson itself)
    assert same(new.decode(old.encode(plain)), plain)
    assert type(new.decode(old.encode({"id": UUID(int=7)}))["id"]) is UUID


def test_an_unknown_transcoded_type_is_refused_as_the_library_refuses_it() -> None:
    old, new = transcoders()
    data = json.dumps({"x": {"_type_": "colour", "_data_": "red"}}).encode()
    for transcoder in (old, new):
        with pytest.raises(TranscodingNotRegisteredError, match="name 'colour'"):
            transcoder.decode(data)
