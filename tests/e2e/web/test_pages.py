"""The drift board, the episode page and the audit pages in a browser, against `ehqa serve` on a
simulated caseload, on an SQLite file and on PostgreSQL, with axe-core on every page and a
screenshot of each: the board filtered by agency changes its counts, an unknown filter value is
refused naming the field, the journey picture marks a late clock late and a clock met on its due
date on time, a review recorded through the form is on the timeline, a step the lifecycle
refuses shows the reason and records nothing, an agency outside the family's consent gets the
refusal page, and the audit pages show the grades and the record's proposals."""

from __future__ import annotations

import json
import re
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from aggregates.policy import ClockName
from ehqa.clock import fixed
from ehqa.commands import parse_line
from ehqa.services import Services
from tests.e2e.web.conftest import TODAY, Site, Store, api_get, look, serving, sign_in

PORTS = range(8680, 8690)  # these tests' ports for `ehqa serve`
DIMENSIONS = ("pre_eha_activity", "assessment", "planning", "review", "voice_of_the_child",
              "multi_agency_working", "impact", "management_oversight")  # fmt: skip


@dataclass(frozen=True)
class Journey:
    """EP-LATE: its assessment finalised on its due date, the child first seen after theirs."""

    assessment_due: str
    child_seen_due: str


def _apply(services: Services, *lines: dict[str, Any]) -> None:
    for line in lines:
        parse_line(json.dumps(line)).apply(services.app, by="system:web-tests")


def _lead(agency: str = "early_help_team") -> dict[str, str]:
    return {"name": "Sam Carter", "agency": agency}


def _add_pages_data(url: str) -> Journey:
    """Episodes in the states the tests need, and audits (one completed, one to score)."""
    s = Services(url, clock=fixed(TODAY))
    try:
        agencies = ["early_help_team", "primary_school"]
        _apply(s, {"cmd": "open", "episode": "EP-LATE", "on": "2025-06-02", "child": "C-LATE", "lead": _lead()},
               {"cmd": "record_consent", "episode": "EP-LATE", "on": "2025-06-03", "agencies": agencies})  # fmt: skip
        s.catch_up()
        due = {r.entry.clock: r.entry.due_on for r in s.read.deadlines("EP-LATE", TODAY)}
        journey = Journey(
            due[ClockName.ASSESSMENT].isoformat(), due[ClockName.CHILD_SEEN].isoformat()
        )
        _apply(s, {"cmd": "finalise_assessment", "episode": "EP-LATE", "on": journey.assessment_due},
               {"cmd": "see_child", "episode": "EP-LATE",
                "on": (due[ClockName.CHILD_SEEN] + timedelta(days=3)).isoformat()},
               {"cmd": "open", "episode": "EP-PLAN", "on": "2025-10-01", "child": "C-PLAN", "lead": _lead()},
               {"cmd": "record_consent", "episode": "EP-PLAN", "on": "2025-10-02", "agencies": agencies},
               {"cmd": "finalise_assessment", "episode": "EP-PLAN", "on": "2025-10-10"},
               {"cmd": "agree_single_agency_plan", "episode": "EP-PLAN", "on": "2025-10-15"},
               {"cmd": "open", "episode": "EP-STALE", "on": "2025-11-03", "child": "C-STALE", "lead": _lead()},
               {"cmd": "record_consent", "episode": "EP-STALE", "on": "2025-11-04", "agencies": agencies})  # fmt: skip
        s.catch_up()
        s.assign_audit("AU-D1", episode="EP-PLAN", scheme="darlington", auditor="Kim Auditor",
                       reason="random sample", on=TODAY)  # fmt: skip
        for n, dimension in enumerate(DIMENSIONS):
            s.app.change_audit("AU-D1", lambda a, t, d=dimension, g=1 + n % 3: a.score(
                d, g, "seen in the record", TODAY, t))  # fmt: skip
        s.app.change_audit("AU-D1", lambda a, t: a.complete(TODAY, t))
        s.assign_audit("AU-S1", episode="EP-LATE", scheme="st_helens", auditor="Kim Auditor",
                       reason="random sample", on=TODAY)  # fmt: skip
        s.catch_up()
        return journey
    finally:
        s.close()


@pytest.fixture(scope="module")
def journey(store: Store) -> Journey:
    return _add_pages_data(store.url)


@pytest.fixture(scope="module")
def site(
    store: Store, journey: Journey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The server on these tests' ports, with an auditors file for the audit programme."""
    auditors = tmp_path_factory.mktemp("auditors") / "auditors.toml"
    auditors.write_text(
        '[auditors]\n"Kim Auditor" = "team_manager"\n"Ola Reed" = "service_manager"\n'
    )
    env = {"EHQA_AUDITORS_FILE": str(auditors)}
    with serving(store.url, tmp_path_factory.mktemp("serve"), env, PORTS) as base:
        yield Site(base, store)


def _coordinator(page: Page, site: Site, path: str) -> None:
    sign_in(page, site.base, site.store.tokens["coordinator"], path)
    expect(page).to_have_url(re.compile(re.escape(path.split("?")[0])))


def _total(page: Page) -> int:
    text = page.locator("#total").inner_text()
    found = re.search(r"of (\d+) clock", text)
    assert found, text
    return int(found.group(1))


def _counts(page: Page) -> dict[str, int]:
    return {rung: int(page.locator(f"#counts [data-rung='{rung}'] dd").inner_text())
            for rung in ("escalated", "overdue", "due_soon")}  # fmt: skip


def test_the_drift_board_filtered_by_agency_shows_that_agencys_counts(
    site: Site, page: Page
) -> None:
    _coordinator(page, site, "/web/drift")
    expect(page.get_by_role("heading", level=1)).to_have_text("Drift board")
    everyone, counts = _total(page), _counts(page)
    assert everyone == sum(counts.values()) > 0
    look(page, "drift-board", site.store.kind)
    rows = api_get(site.base, site.store.tokens["coordinator"], "/drift?limit=10000")
    agency = max({r["agency"] for r in rows}, key=lambda a: sum(r["agency"] == a for r in rows))
    page.get_by_label("Agency").select_option(agency)
    page.get_by_role("button", name="Show", exact=True).click()
    expect(page).to_have_url(re.compile(f"agency={agency}"))
    theirs = _total(page)
    assert 0 < theirs < everyone
    assert _counts(page)["overdue"] + _counts(page)["escalated"] == sum(
        r["agency"] == agency for r in rows
    )
    cells = page.locator("#board tbody tr td:nth-child(7)").all_inner_texts()
    assert cells and set(cells) == {agency}
    look(page, "drift-board-by-agency", site.store.kind)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these rows (CSV)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("episode,clock") and len(lines) == min(theirs, 50) + 1
    page.locator("#board tbody tr th a").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Episode ")


def test_an_unknown_filter_value_is_refused_naming_the_field(site: Site, page: Page) -> None:
    _coordinator(page, site, "/web/drift?agency=shcool")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link")).to_contain_text("Agency: unknown value 'shcool'")
    expect(page.locator("#counts")).to_have_count(0)  # never "nothing overdue"
    look(page, "drift-board-unknown-agency", site.store.kind)
    summary.get_by_role("link").click()
    expect(page.get_by_label("Agency")).to_be_focused()


def test_the_journey_marks_a_late_clock_late_and_one_met_on_its_due_date_on_time(
    site: Site, journey: Journey, page: Page
) -> None:
    _coordinator(page, site, "/web/episodes/EP-LATE")
    picture = page.get_by_role("img", name="Journey of episode EP-LATE")
    expect(picture).to_be_visible()
    assessment = picture.locator("g.clock[data-clock='assessment'][data-occurrence='1']")
    expect(assessment).to_have_attribute("data-status", "on-time")
    expect(assessment).to_contain_text("Assessment: on time")
    child_seen = picture.locator("g.clock[data-clock='child_seen'][data-occurrence='1']")
    expect(child_seen).to_have_attribute("data-status", "late")
    expect(child_seen.locator("title")).to_contain_text(f"due {journey.child_seen_due}")
    row = page.locator("#clocks tr[data-clock='assessment']").first  # due and ended on one day
    expect(row).to_have_attribute("data-status", "on-time")
    expect(row.locator("td").nth(1)).to_have_text(journey.assessment_due)
    expect(row.locator("td").nth(2)).to_have_text(journey.assessment_due)
    expect(page.locator("#timeline")).to_contain_text("Early Help assessment finalised")
    look(page, "episode", site.store.kind)
    svg = page.request.get(f"{site.base}/web/episodes/EP-LATE/journey.svg")
    assert svg.ok and svg.headers["content-type"].startswith("image/svg+xml")
    drawn = ET.fromstring(svg.body())
    statuses = {(g.get("data-clock"), g.get("data-occurrence")): g.get("data-status")
                for g in drawn.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "clock"}  # fmt: skip
    assert statuses[("child_seen", "1")] == "late" and statuses[("assessment", "1")] == "on-time"
    assert "attachment" in svg.headers["content-disposition"]


def test_a_review_recorded_through_the_form_is_on_the_timeline(site: Site, page: Page) -> None:
    token = site.store.tokens["coordinator"]
    before = api_get(site.base, token, "/episodes/EP-PLAN/timeline")
    _coordinator(page, site, "/web/episodes/EP-PLAN")
    expect(page.locator("#timeline li[data-event='ReviewHeld']")).to_have_count(0)
    page.get_by_text("Hold review", exact=True).click()
    form = page.locator("#step-hold_review form")
    form.get_by_label("On", exact=True).fill(TODAY.isoformat())
    form.get_by_role("button", name="Record: hold review").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: hold review.")
    expect(page.locator("#timeline li[data-event='ReviewHeld']")).to_contain_text(TODAY.isoformat())
    look(page, "episode-review-recorded", site.store.kind)
    after = api_get(site.base, token, "/episodes/EP-PLAN/timeline")
    assert [e["event"] for e in after] == [e["event"] for e in before] + ["ReviewHeld"]


def test_a_step_the_lifecycle_refuses_shows_the_reason_and_records_nothing(
    site: Site, page: Page
) -> None:
    token = site.store.tokens["coordinator"]
    _coordinator(page, site, "/web/episodes/EP-STALE")
    page.get_by_text("Finalise assessment", exact=True).click()
    # someone else finalises it first: the form on this page is now a step the lifecycle refuses
    request = urllib.request.Request(
        f"{site.base}/episodes/EP-STALE/finalise_assessment", data=b'{"on": "2025-11-18"}',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=20) as answer:
        assert answer.status == 200
    before = api_get(site.base, token, "/episodes/EP-STALE")
    page.locator("#step-finalise_assessment form").get_by_role("button").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Nothing was recorded.")
    expect(summary).to_contain_text("cannot finalise the assessment")
    expect(summary).to_contain_text("the episode is `assessed`")
    look(page, "episode-step-refused", site.store.kind)
    after = api_get(site.base, token, "/episodes/EP-STALE")
    assert after["version"] == before["version"] and after["state"] == "assessed"
    future = (TODAY + timedelta(days=1)).isoformat()  # a rule of the domain: no future dates
    page.get_by_text("See child", exact=True).click()
    form = page.locator("#step-see_child form")
    form.get_by_label("On", exact=True).fill(future)
    form.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_contain_text(f"the date {future} is in the future")
    assert api_get(site.base, token, "/episodes/EP-STALE")["version"] == before["version"]


def test_an_agency_outside_the_familys_consent_gets_the_refusal_page(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["lee"], "/web/episodes/EH-W1")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.locator("main")).not_to_contain_text("Jo Bright")
    look(page, "episode-outside-consent", site.store.kind)
    svg = page.request.get(f"{site.base}/web/episodes/EH-W1/journey.svg")
    assert svg.status == 404
    page.goto(f"{site.base}/web/drift")
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    look(page, "drift-board-refused", site.store.kind)


def test_the_audit_dashboard_and_an_audit_form_with_the_records_proposals(
    site: Site, page: Page
) -> None:
    _coordinator(page, site, "/web/audits")
    chart = page.get_by_role("img", name="Completed audits by grade and scheme")
    expect(chart.locator("g.bar[data-group='darlington']")).to_have_count(1)
    expect(page.locator("#table-agency")).to_contain_text("early_help_team")
    behind = page.locator("#programme tr.behind")  # furthest behind first: 6 expected, 1 done
    expect(behind.first).to_have_text(
        re.compile(r"Kim Auditor\s*team manager\s*detailed\s*6\.0\s*1\s*5\.0")
    )
    expect(behind.filter(has_text="Ola Reed")).to_have_count(1)
    look(page, "audit-dashboard", site.store.kind)
    page.get_by_role("link", name="AU-S1").click()
    proposal = page.locator("#scores tr[data-item='A1'] td.proposal")
    expect(proposal).to_contain_text("2")  # finalised on its due date: met
    expect(page.locator("#scores tr[data-item='A1'] td.score")).to_have_text("not scored")
    look(page, "audit-form", site.store.kind)
    page.get_by_label("Item", exact=True).select_option("A1")
    page.get_by_label("Score", exact=True).fill("2")
    page.get_by_label("Evidence", exact=True).fill("finalised on the day it fell due")
    page.get_by_role("button", name="Record the score").click()
    expect(page.get_by_role("status")).to_contain_text("Scored: A1.")
    expect(page.locator("#scores tr[data-item='A1'] td.score")).to_have_text("2")
    page.get_by_label("Item", exact=True).select_option("A2")
    page.get_by_label("Score", exact=True).fill("9")
    page.get_by_label("Evidence", exact=True).fill("x")
    page.get_by_role("button", name="Record the score").click()
    expect(page.get_by_role("alert")).to_contain_text("9 is not one of them")
    look(page, "audit-form-refused", site.store.kind)
    assert (
        "A2" not in api_get(site.base, site.store.tokens["coordinator"], "/audits/AU-S1")["scores"]
    )
