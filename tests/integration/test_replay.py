"""An aggregate is loaded by `ehqa.persistence.replay` (each event applied in turn, without
eventsourcing's check of each event against a runtime-checked Protocol), into the same state as
eventsourcing's own projector, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from eventsourcing import application as es_application
from eventsourcing.application import project_aggregate

from aggregates.ids import episode_id
from ehqa.services import Services
from ehqa.simulate import simulate

from ..conftest import SIM_TODAY


def test_every_episode_loads_as_eventsourcings_projector_makes_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulate(services.app, 30, 11, date(2025, 11, 20), SIM_TODAY, interleaved=True)
    services.catch_up()
    references = services.read.references()
    assert len(references) == 30

    checked = []

    class Counting(type):
        def __instancecheck__(cls, instance: Any) -> bool:
            checked.append(instance)
            return True

    class CanMutate(metaclass=Counting):
        pass

    # (eventsourcing's projector asserts each event against this name as it replays)
    monkeypatch.setattr(es_application, "CanMutateProtocol", CanMutate)
    replayed = 0
    for reference in references:
        ident = episode_id(reference)
        loaded = services.app.repository.get(ident)
        events = list(services.app.repository.event_store.get(ident))
        assert vars(loaded) == vars(project_aggregate(None, events)), reference
        assert vars(services.app.get_episode(reference)) == vars(loaded)
        replayed += len(events)
    assert replayed > 200
    assert len(checked) == replayed  # (only the library's projector, called above, checked them)
    older = services.app.repository.get(episode_id(references[0]), version=2)
    assert older.version == 2
