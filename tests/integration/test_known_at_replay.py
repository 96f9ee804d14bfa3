"""Replaying the whole log as known now gives exactly the live views' answers (the boards and
one episode's), and a moment before anything was recorded gives empty ones: on both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ehqa.reads import When, reading
from ehqa.services import Services
from ehqa.simulate import references, simulate
from tests.conftest import SIM_TODAY


def test_the_log_replayed_as_known_now_answers_as_the_live_views(services: Services) -> None:
    simulate(services.app, 40, 3, SIM_TODAY - timedelta(days=300), SIM_TODAY)
    services.sweep(SIM_TODAY)
    services.catch_up()
    live, now = When(SIM_TODAY, None, SIM_TODAY), When(SIM_TODAY, datetime.now(UTC), SIM_TODAY)
    answers = []
    for when in (live, now):
        with reading(services, when) as read:
            answers.append((
                read.drift(SIM_TODAY), read.caseloads(SIM_TODAY), read.agency_loads(SIM_TODAY),
                read.alerts(SIM_TODAY, include_cleared=True), read.deadlines(None, SIM_TODAY),
            ))  # fmt: skip
    assert answers[0] == answers[1]
    assert answers[0][0] and answers[0][3]  # (something overdue, and alerts raised)
    one = next(references(3, 1))
    with reading(services, now, one) as known, reading(services, live, one) as current:
        assert known.deadlines(one, SIM_TODAY) == current.deadlines(one, SIM_TODAY)
        assert known.timeline(one) == current.timeline(one)
        assert known.episode(one) == current.episode(one)
    before = When(SIM_TODAY, datetime(2001, 1, 1, tzinfo=UTC), SIM_TODAY)
    with reading(services, before) as empty:
        assert empty.drift(SIM_TODAY) == [] and empty.caseloads(SIM_TODAY) == []
