"""`ehqa record STEP`: the import format's commands as options. The same steps recorded three
ways, each into a store of its own, give the same events: `ehqa record` (a separate process, as
a user runs it), `ehqa apply` of the JSON Lines import, and the HTTP API. Compared are every
stored event's topic and state, read back through the application's recorder, leaving out only
the originator id, the version and the time it was recorded; the author is the same subject on
all three (`--by token:<id>`, and that token on the HTTP API)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ehqa.api import create_app
from ehqa.application import EhqaApplication
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.store import store_env
from tests.conftest import postgres_server_url

TODAY = date(2026, 1, 15)
REF = "EH-0001"
# Each step as a line of the import (without `episode`) and as `ehqa record` arguments.
STEPS: list[tuple[dict[str, Any], list[str]]] = [
    ({"cmd": "open", "on": "2025-09-01", "child": "C-1001", "pre_birth": False,
      "lead": {"name": "Jo Bright", "agency": "primary_school", "subject": "token:jo"}},
     ["open", "--on", "2025-09-01", "--child", "C-1001", "--no-pre-birth", "--lead-name",
      "Jo Bright", "--lead-agency", "primary_school", "--lead-subject", "token:jo"]),
    ({"cmd": "record_consent", "on": "2025-09-02",
      "agencies": ["primary_school", "health_visiting", "camhs"]},
     ["consent", "--on", "2025-09-02", "--agencies", "primary_school, health_visiting,camhs"]),
    ({"cmd": "see_child", "on": "2025-09-10"}, ["see-child", "--on", "2025-09-10"]),
    ({"cmd": "record_needs", "on": "2025-09-12", "needs": ["education", "health", "housing"],
      "whole_family_assessment": True},
     ["needs", "--on", "2025-09-12", "--needs", "education,health,housing",
      "--whole-family-assessment"]),
    ({"cmd": "record_exception", "on": "2025-09-15", "clock": "assessment",
      "reason": "Family away, back on the 20th"},
     ["exception", "--on", "2025-09-15", "--clock", "assessment", "--reason",
      "Family away, back on the 20th"]),
    ({"cmd": "finalise_assessment", "on": "2025-09-26"},
     ["finalise-assessment", "--on", "2025-09-26"]),
    ({"cmd": "record_feedback", "on": "2025-09-26", "from": "parent_carer",
      "point": "during_assessment", "answers": {"worries_discussed": "agree", "got_help": "partly"},
      "comments": "Helpful, thank you"},
     ["feedback", "--on", "2025-09-26", "--from", "parent_carer", "--point", "during_assessment",
      "--answers", "worries_discussed=agree, got_help=partly", "--comments", "Helpful, thank you"]),
    ({"cmd": "decide_fam", "on": "2025-09-29"}, ["decide-fam", "--on", "2025-09-29"]),
    ({"cmd": "hold_fam", "on": "2025-10-14"}, ["fam", "--on", "2025-10-14"]),
    ({"cmd": "circulate_plan", "on": "2025-10-20"}, ["circulate-plan", "--on", "2025-10-20"]),
    ({"cmd": "hold_review", "on": "2025-11-12", "plan_changed": True},
     ["review", "--on", "2025-11-12", "--plan-changed"]),
    ({"cmd": "change_lead", "on": "2025-11-13",
      "lead": {"name": "Ann Cole", "agency": "health_visiting"}},
     ["change-lead", "--on", "2025-11-13", "--lead-name", "Ann Cole", "--lead-agency",
      "health_visiting"]),
    ({"cmd": "request_panel", "on": "2025-11-14", "asks": ["advice", "services"],
      "summary": "A parenting course, and advice on housing"},
     ["request-panel", "--on", "2025-11-14", "--asks", "advice,services", "--summary",
      "A parenting course, and advice on housing"]),
    ({"cmd": "record_panel_outcome", "on": "2025-11-20", "outcome": "services_allocated",
      "services": [{"service": "Parenting course", "provider": "Barnardo's"},
                   {"service": "Housing advice", "provider": "Council, housing team"}],
      "notes": "Start in January"},
     ["panel-outcome", "--on", "2025-11-20", "--outcome", "services_allocated",
      "--services", "service=Parenting course,provider=Barnardo's",
      "--services", r"service=Housing advice,provider=Council\, housing team",
      "--notes", "Start in January"]),
    ({"cmd": "step_up", "on": "2025-12-01", "level": 3}, ["step-up", "--on", "2025-12-01", "--level", "3"]),
    ({"cmd": "record_mash_outcome", "on": "2025-12-02", "level": 2},
     ["mash-outcome", "--on", "2025-12-02", "--level", "2"]),
    ({"cmd": "close", "on": "2026-01-09", "reason": "outcomes_achieved",
      "summary": "Plan goals met;\nthe family is settled"},
     ["close", "--on", "2026-01-09", "--reason", "outcomes_achieved", "--summary",
      "Plan goals met;\nthe family is settled"]),
    ({"cmd": "record_outcomes", "on": "2026-01-09",
      "outcomes": {"education": True, "health": False, "housing": True}},
     ["outcomes", "--on", "2026-01-09", "--outcomes", "education=true,health=false,housing=true"]),
]  # fmt: skip
WAYS = ("record", "apply", "http")


def ehqa(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ehqa", "--db", url, *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "EHQA_TODAY": TODAY.isoformat()})  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A store of its own for each way of recording, all on SQLite files or all on PostgreSQL."""
    if request.param == "sqlite":
        yield {way: str(tmp_path / f"{way}.db") for way in WAYS}
        return
    server = postgres_server_url()
    schemas = {way: f"t_{way}_{uuid.uuid4().hex[:8]}" for way in WAYS}
    with psycopg.connect(server, autocommit=True) as conn:
        for schema in schemas.values():
            conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield {
            way: f"{server}{'&' if '?' in server else '?'}schema={s}" for way, s in schemas.items()
        }
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for schema in schemas.values():
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def stored_events(url: str) -> list[tuple[str, dict[str, Any]]]:
    """Every event in the store, in order: its topic and its state, leaving out the originator
    id, the version and the time it was recorded."""
    app = EhqaApplication(store_env(url))
    try:
        found = []
        for notification in app.recorder.select_notifications(start=1, limit=1_000_000):
            state = notification.state
            if app.mapper.cipher is not None:
                state = app.mapper.cipher.decrypt(state)
            if app.mapper.compressor is not None:
                state = app.mapper.compressor.decompress(state)
            fields = app.mapper.transcoder.decode(state)
            for left_out in ("originator_id", "originator_version", "timestamp"):
                fields.pop(left_out, None)
            found.append((notification.topic, fields))
        return found
    finally:
        app.close()


def issue_token(url: str) -> tuple[str, str]:
    """A co-ordinator's API token made with `ehqa tokens create`, and its subject."""
    made = ehqa(url, "tokens", "create", "--role", "coordinator", "--name", "Identity test")
    assert made.returncode == 0, made.stderr
    ident = re.fullmatch(r"token (\S+) for Identity test\n", made.stderr)
    assert ident, made.stderr
    return made.stdout.strip(), f"token:{ident.group(1)}"


def test_record_apply_and_http_record_the_same_events(
    stores: dict[str, str], tmp_path: Path
) -> None:
    token, subject = issue_token(stores["http"])
    services = Services(stores["http"], clock=fixed(TODAY))
    answers = []
    with TestClient(create_app(services)) as http:
        for line, _ in STEPS:
            body = {k: v for k, v in line.items() if k != "cmd"}
            path = "/episodes" if line["cmd"] == "open" else f"/episodes/{REF}/{line['cmd']}"
            if line["cmd"] == "open":
                body["episode"] = REF
            response = http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code in (200, 201), response.text
            answers.append(response.json())
    services.close()

    source = tmp_path / "steps.jsonl"
    source.write_text("".join(json.dumps({**line, "episode": REF}) + "\n" for line, _ in STEPS))
    applied = ehqa(stores["apply"], "--by", subject, "apply", str(source))
    assert applied.returncode == 0, applied.stderr

    for (line, args), answer in zip(STEPS, answers, strict=True):
        step, *options = args
        done = ehqa(stores["record"], "--by", subject, "record", step, REF, *options, "--json")
        assert done.returncode == 0, (line["cmd"], done.stderr)
        if line["cmd"] != "open":  # (opening over HTTP answers with the episode's view too)
            assert json.loads(done.stdout) == answer, line["cmd"]

    recorded = {way: stored_events(url) for way, url in stores.items()}
    assert len(recorded["record"]) >= len(STEPS)
    assert {topic.rsplit(".", 1)[-1] for topic, _ in recorded["record"]} >= {
        "ConsentRecorded", "AssessmentFinalised", "ReviewHeld", "NeedsRecorded"}  # fmt: skip
    assert {state.get("author") for _, state in recorded["record"]} == {subject}
    assert recorded["record"] == recorded["apply"]
    assert recorded["record"] == recorded["http"]


def test_every_command_model_is_a_step_whose_help_lists_its_fields(sqlite_url: str) -> None:
    from typer.main import get_command

    from ehqa.cli import app
    from ehqa.cli.record import step_name
    from ehqa.commands import MODELS

    group: Any = get_command(app)
    steps = group.commands["record"]
    with steps.make_context("record", ["--help"], resilient_parsing=True) as ctx:
        assert sorted(steps.list_commands(ctx)) == sorted(
            [step_name(c) for c in MODELS] + ["child-details"]  # (keyed by the child)
        )

    def shown(*args: str) -> str:
        done = ehqa(sqlite_url, "record", *args, "--help")
        assert done.returncode == 0, done.stderr
        return " ".join(re.sub("[│╭╮╰╯─*]", " ", done.stdout).split())

    feedback = shown("feedback")
    for text in ("record_feedback", "--from CHOICE One of child, parent_carer. [required]",
                 "--answers KEY=VALUE,... Each statement of the sheet (its key) rated agree",
                 "each value one of agree, partly, disagree", "--comments TEXT Up to 10,000"):  # fmt: skip
        assert text in feedback
    review = shown("review")
    assert "hold_review" in review and "--plan-changed --no-plan-changed" in review
    opening = shown("open")
    for text in ("--lead-name TEXT 1-200 characters", "--lead-agency", "--lead-subject TEXT The"
                 " lead professional's stable identity", "--origin CHOICE One of referral, step_down"):  # fmt: skip
        assert text in opening
    assert "--agencies A,B,... Comma-separated, 1-100 of them" in shown("consent")


def test_a_bad_value_names_its_option_and_a_refused_step_its_reason_recording_nothing(
    store_url: str,
) -> None:
    url, by = store_url, ("--by", "token:tester")
    opened = ehqa(url, *by, "record", "open", REF, *STEPS[0][1][1:])
    assert opened.returncode == 0, opened.stderr
    assert "recorded open on EH-0001" in opened.stdout and "state: referred" in opened.stdout
    for args, message in [
        (["consent", "--on", "2025-09-02", "--agencies", "school,\x1bcamhs"],
         "option '--agencies' (item 2): contains a control character (U+001B) at position 0;"
         " none is allowed"),
        (["consent", "--on", "2025-02-30", "--agencies", "school"], "option '--on': Input should"
         " be a valid date or datetime, day value is outside expected range"),
        (["consent", "--on", "2025-09-02", "--agencies", ""],
         "option '--agencies': List should have at least 1 item after validation, not 0"),
        (["step-up", "--on", "2025-09-02", "--level", "5"], "option '--level': Input should be 3 or 4"),
        (["outcomes", "--on", "2025-09-02", "--outcomes", "education"],
         "option '--outcomes': 'education' is not KEY=VALUE"),
        (["outcomes", "--on", "2025-09-02", "--outcomes", "educaton=true"],
         "option '--outcomes' ('educaton'): Input should be 'education', "),
        (["panel-outcome", "--on", "2025-09-02", "--outcome", "advice", "--services", "service=x"],
         "option '--services' (item 1, 'provider'): Field required"),
        (["change-lead", "--on", "2025-09-02", "--lead-name", "Ann", "--lead-agency", "x" * 201],
         "option '--lead-agency': is 201 characters long; at most 200 are allowed"),
    ]:  # fmt: skip
        refused = ehqa(url, *by, "record", *args, REF)
        assert (refused.returncode, refused.stdout) == (2, ""), (args, refused.stderr)
        assert refused.stderr.startswith(f"error: {message}"), refused.stderr
    bad_reference = ehqa(url, *by, "record", "see-child", "EH 1", "--on", "2025-09-02")
    assert bad_reference.returncode == 2
    assert bad_reference.stderr.startswith("error: argument 'REFERENCE': is not a valid reference")

    early = ehqa(url, *by, "record", "review", REF, "--on", "2025-09-03", "--plan-changed")
    assert (early.returncode, early.stdout) == (1, "")
    assert early.stderr.startswith("error: cannot hold a review"), early.stderr
    unknown = ehqa(url, *by, "record", "see-child", "EH-0404", "--on", "2025-09-03")
    assert unknown.returncode == 1 and "EH-0404" in unknown.stderr

    topics = [topic.rsplit(":", 1)[-1] for topic, _ in stored_events(url)]
    assert topics == ["ChildRecord.Registered", "ChildRecord.EpisodeOpened", "Episode.Opened"]
    consent = ehqa(url, *by, "record", "consent", REF, "--on", "2025-09-02", "--agencies", "school")
    assert consent.returncode == 0, consent.stderr
    assert "recorded record_consent on EH-0001" in consent.stdout
    assert "state: assessing" in consent.stdout and "version: 2" in consent.stdout
    log = json.loads(ehqa(url, "access-log", "--episode", REF, "--json").stdout)
    recorded = [(e["action"], e["subject"]) for e in log if e["action"].startswith("record ")]
    assert sorted(recorded) == [("record open", "token:tester"),
                                ("record record_consent", "token:tester")]  # fmt: skip
    assert ("cli record consent", "token:tester") in [(e["action"], e["subject"]) for e in log]
