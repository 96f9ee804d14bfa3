"""The episode page's step forms are made from the command models and read back through them."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest

from aggregates.lifecycle import State
from ehqa.commands import MODELS
from ehqa.web import steps
from ehqa.web.charts import grade_chart

GRADES = ["Outstanding", "Good", "Requires Improvement", "Inadequate"]


def kinds(cmd: str) -> dict[str, str]:
    return {f.name: f.kind for f in steps.step(cmd).fields}


def test_every_step_has_a_form_with_its_date_first():
    for cmd in MODELS:
        if cmd != "open":
            assert steps.step(cmd).fields[0].name == "on", cmd


def test_each_shape_of_field_gets_its_own_input():
    assert kinds("hold_review") == {"on": "date", "plan_changed": "checkbox"}
    assert kinds("change_lead") == {"on": "date", "lead.name": "text", "lead.agency": "text",
                                    "lead.subject": "text"}  # fmt: skip
    assert kinds("record_consent")["agencies"] == "list"
    assert kinds("request_panel")["asks"] == "checkboxes"
    assert kinds("record_outcomes")["outcomes"] == "choices"
    assert kinds("record_feedback")["answers"] == "pairs"
    assert kinds("record_panel_outcome")["services"] == "lines"
    assert kinds("close") == {"on": "date", "reason": "select", "summary": "textarea"}
    assert steps.step("step_up").fields[1].choices == ("3", "4")


def test_only_the_steps_the_lifecycle_allows_are_offered():
    assert "hold_review" in steps.allowed(State.PLAN_ACTIVE.value)
    assert "hold_review" not in steps.allowed(State.ASSESSING.value)
    assert "finalise_assessment" in steps.allowed(State.ASSESSING.value)
    assert "record_mash_outcome" in steps.allowed(State.AWAITING_MASH.value)
    assert set(steps.allowed(State.CLOSED.value)) == {
        "record_feedback", "record_outcomes", "record_sustained_check"}  # fmt: skip
    assert all("open" not in steps.allowed(s.value) for s in State)


def test_what_a_form_sends_is_read_as_the_import_reads_it():
    sent = {"on": ["2026-01-02"], "agencies": ["school, camhs"]}
    command = steps.parse(steps.step("record_consent"), "EP-1", sent)
    assert command.model_dump(include={"episode", "on", "agencies"}) == {
        "episode": "EP-1", "on": date(2026, 1, 2), "agencies": ["school", "camhs"]}  # fmt: skip
    lead = steps.parse(steps.step("change_lead"), "EP-1",
                       {"on": ["2026-01-02"], "lead.name": ["Ann Lee"], "lead.agency": ["school"]})  # fmt: skip
    assert lead.lead.name == "Ann Lee" and lead.lead.subject is None  # type: ignore[attr-defined]
    outcomes = steps.parse(steps.step("record_outcomes"), "EP-1",
                           {"on": ["2026-01-02"], "outcomes.health": ["yes"], "outcomes.crime": ["no"],
                            "outcomes.housing": [""]})  # fmt: skip
    assert {k.value: v for k, v in outcomes.outcomes.items()} == {"health": True, "crime": False}  # type: ignore[attr-defined]
    panel = steps.parse(steps.step("record_panel_outcome"), "EP-1",
                        {"on": ["2026-01-02"], "outcome": ["services_allocated"],
                         "services": ["service=Parenting, provider=Barnardo's\n"]})  # fmt: skip
    assert panel.services[0].provider == "Barnardo's"  # type: ignore[attr-defined]


def test_a_refused_field_is_named_by_its_label():
    with pytest.raises(steps.FormError) as refused:
        steps.parse(steps.step("close"), "EP-1", {"on": ["2026-01-02"], "reason": ["bored"]})
    assert refused.value.label == "Reason"
    with pytest.raises(steps.FormError) as missing:
        steps.parse(steps.step("change_lead"), "EP-1", {"on": ["2026-01-02"], "lead.name": ["A"]})
    assert missing.value.label == "Agency"
    with pytest.raises(steps.FormError, match="On"):
        steps.parse(steps.step("see_child"), "EP-1", {"on": ["yesterday"]})
    with pytest.raises(steps.FormError, match="not KEY=VALUE"):
        steps.parse(
            steps.step("record_feedback"), "EP-1", {"on": ["2026-01-02"], "answers": ["agree"]}
        )


def test_a_grade_chart_draws_each_group_by_grade_with_its_counts():
    rows = [{"agency": "school", "Outstanding": 1, "Good": 2, "Requires Improvement": 0,
             "Inadequate": 0, "total": 3}]  # fmt: skip
    root = ET.fromstring(grade_chart(rows, "agency", GRADES, "c"))
    svg = "{http://www.w3.org/2000/svg}"
    segments = {g.get("data-grade"): g.get("data-count") for g in root.iter(f"{svg}g")
                if g.get("class") == "segment"}  # fmt: skip
    assert segments == {"Outstanding": "1", "Good": "2"}
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c-title c-desc"
    empty = ET.fromstring(grade_chart([], "agency", GRADES, "e"))
    assert "No completed audits yet." in "".join(empty.itertext())
