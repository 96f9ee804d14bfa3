"""An erasure that meets a recording of the same child by another process (each read the
child's record before the other wrote): the erasure is recorded all the same, and no new key is
ever made for the erased child. On both stores, with two services (two connections) on one
store, the interleaving fixed by handing the loser the record as it read it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from aggregates.child import Child, ChildErasedError
from ehqa import children
from ehqa.children import ChildConflictError
from ehqa.clock import fixed
from ehqa.keys import DESTROYED
from ehqa.services import Services
from tests.e2e.children.helpers import open_episode

ON = date(2025, 9, 1)


def stale_once(monkeypatch: pytest.MonkeyPatch, record: Child) -> None:
    """The next load of a child's record answers `record`, as it was read earlier."""
    real, handed = children._load, []

    def load(app: Any, child: str, rehearsal: Any = None) -> Child | None:
        if not handed:
            handed.append(record)
            return record
        return real(app, child, rehearsal)

    monkeypatch.setattr(children, "_load", load)


@pytest.fixture
def two(store_url: str) -> Iterator[tuple[Services, Services]]:
    """A recorder and an eraser, each with its own connection to one store, and child C-1 with
    a name recorded."""
    open_episode(store_url, "EH-1", "C-1")
    recorder, eraser = (Services(store_url, clock=fixed(date(2026, 1, 15))) for _ in range(2))
    try:
        children.record_details(recorder.app, "C-1", {"name": "Zephyrine"}, ON, by="lp")
        yield recorder, eraser
    finally:
        recorder.close()
        eraser.close()


def _record_as_read_by(services: Services) -> Child:
    """C-1's record as `services` reads it now (to be given back to it stale later)."""
    found = children._load(services.app, "C-1")
    assert found is not None
    return found


def test_an_erasure_is_recorded_though_a_field_was_recorded_after_it_read_the_record(
    two: tuple[Services, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, eraser = two
    read_by_eraser = _record_as_read_by(eraser)
    children.record_details(recorder.app, "C-1", {"postcode": "WA10 1AB"}, ON, by="lp")
    stale_once(monkeypatch, read_by_eraser)
    erased = children.erase(eraser.app, "C-1", "retention", ON, by="admin")
    assert erased.erased_on == ON
    details = recorder.child_details("C-1")
    assert details is not None and details.erased
    assert details.name is None and details.postcode is None
    with pytest.raises(ChildErasedError):
        children.record_details(recorder.app, "C-1", {"name": "Again"}, ON, by="lp")


def test_no_new_key_is_made_for_a_child_erased_after_their_record_was_read(
    two: tuple[Services, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, eraser = two
    read_by_recorder = _record_as_read_by(recorder)
    children.erase(eraser.app, "C-1", "retention", ON, by="admin")
    stale_once(monkeypatch, read_by_recorder)
    with pytest.raises(ChildConflictError):
        children.record_details(recorder.app, "C-1", {"name": "Again"}, ON, by="lp")
    rows = recorder.views.query("SELECT wrapped FROM ehqa_child_keys WHERE child = 'C-1'")
    assert rows == [(DESTROYED,)]
    assert recorder.app.child_keys.find("C-1") is None
    details = recorder.child_details("C-1")
    assert details is not None and details.erased and details.name is None
