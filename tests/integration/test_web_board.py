"""The drift board page's rows and counts by rung agree with the API's drift queries, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from aggregates.alerts import Rung
from aggregates.clocks import Status
from ehqa.commands import Open, SeeChild
from ehqa.filters import UnknownValueError
from ehqa.services import Services
from ehqa.simulate import simulate
from ehqa.web import board as drift

from ..conftest import SIM_TODAY

NONE = dict.fromkeys(drift.FILTERS)


@pytest.fixture
def caseload(services: Services) -> Services:
    simulate(services.app, 200, 5, date(2025, 11, 20), SIM_TODAY)
    services.catch_up()
    return services


def every_row(services: Services, **filters: str) -> list[drift.Row]:
    found, page = [], 1
    while True:
        shown = drift.board(services, SIM_TODAY, {**NONE, **filters}, page=page, size=7)
        found += shown.rows
        if page == shown.pages:
            return found
        page += 1


def test_the_counts_by_rung_are_the_rows_of_each_rung(caseload: Services) -> None:
    rows = every_row(caseload)
    shown = drift.board(caseload, SIM_TODAY, NONE)
    by_rung = {rung.value: sum(r.rung is rung for r in rows) for rung in Rung}
    assert shown.counts == by_rung and shown.total == len(rows) > 0
    assert by_rung["overdue"] and by_rung["escalated"]
    late = [r for r in rows if r.rung is not Rung.DUE_SOON]
    assert [r.board for r in late] == caseload.read.drift(SIM_TODAY)
    assert all(r.board.entry.status is Status.OVERDUE for r in late)
    assert all(r.board.entry.status is Status.PENDING for r in rows if r.rung is Rung.DUE_SOON)


def test_a_rung_filter_and_another_sort_page_through_the_same_rows(caseload: Services) -> None:
    escalated = every_row(caseload, rung="escalated")
    assert {r.rung for r in escalated} == {Rung.ESCALATED}
    assert len(escalated) == drift.board(caseload, SIM_TODAY, NONE).counts["escalated"]
    by_episode = drift.board(caseload, SIM_TODAY, NONE, sort="episode", size=1000).rows
    assert [r.board.episode for r in by_episode] == sorted(r.board.episode for r in by_episode)
    assert sorted(map(drift.cells, by_episode), key=repr) == sorted(
        map(drift.cells, every_row(caseload)), key=repr)  # fmt: skip


def test_an_agency_filter_changes_the_counts_to_that_agencys(caseload: Services) -> None:
    everyone = drift.board(caseload, SIM_TODAY, NONE)
    agency = caseload.read.agencies()[0]
    theirs = every_row(caseload, agency=agency)
    assert theirs and {r.board.lead_agency for r in theirs} == {agency}
    assert drift.board(caseload, SIM_TODAY, {**NONE, "agency": agency}).total < everyone.total


def test_an_unknown_filter_value_is_refused_naming_the_filter(caseload: Services) -> None:
    with pytest.raises(UnknownValueError) as refused:
        drift.board(caseload, SIM_TODAY, {**NONE, "agency": "shcool"})
    assert refused.value.parameter == "agency"
    with pytest.raises(UnknownValueError):
        drift.board(caseload, SIM_TODAY, {**NONE, "rung": "late"})
    with pytest.raises(drift.PageError):
        drift.board(caseload, SIM_TODAY, NONE, page=10_000)


def test_the_csv_is_the_rows_shown_and_defuses_formulas(caseload: Services) -> None:
    shown = drift.board(caseload, SIM_TODAY, NONE, size=5)
    lines = drift.as_csv(shown.rows).splitlines()
    assert lines[0].startswith("episode,clock,occurrence,rung") and len(lines) == 6
    assert drift._safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"


def test_a_step_recorded_moves_the_counts_on(caseload: Services) -> None:
    before = drift.board(caseload, SIM_TODAY, NONE, size=1000)
    seen = next(r for r in before.rows if r.board.entry.clock.value == "child_seen")
    assert drift.board(caseload, SIM_TODAY, NONE).counts == before.counts  # (read again: kept)
    SeeChild(cmd="see_child", episode=seen.board.episode, on=SIM_TODAY).apply(caseload.app)
    caseload.catch_up()
    after = drift.board(caseload, SIM_TODAY, NONE)
    assert after.total == before.total - 1
    assert after.counts[seen.rung.value] == before.counts[seen.rung.value] - 1


def test_a_new_agency_is_known_at_once(caseload: Services) -> None:
    drift.board(caseload, SIM_TODAY, NONE)  # the agencies are kept for the select lists
    lead = {"name": "Ada Newman", "agency": "new_agency"}
    Open(cmd="open", episode="NEW-1", on=SIM_TODAY, child="C-NEW-1", lead=lead).apply(caseload.app)
    caseload.catch_up()
    assert drift.board(caseload, SIM_TODAY, {**NONE, "agency": "new_agency"}).total == 0
