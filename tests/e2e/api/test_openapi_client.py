"""Issue 11: the OpenAPI document is usable by generated clients. A Python client is generated
with openapi-python-client from the document the live server serves (with no warning), and an
episode is opened, consented, assessed and read through that client alone; a refused caller
gets the generated `Problem` back."""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.e2e.api.conftest import Live

BIN = Path(sys.executable).parent
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def spec_of(live: Live) -> dict[str, Any]:
    with urllib.request.urlopen(f"{live.base}/openapi.json", timeout=10) as response:
        found: dict[str, Any] = json.load(response)
    return found


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_the_document_has_one_problem_a_security_scheme_and_readable_operation_ids(
    live: Live,
) -> None:
    spec = spec_of(live)
    schemas = spec["components"]["schemas"]
    assert set(schemas["Problem"]["properties"]) >= PROBLEM_FIELDS
    # every error answer is a $ref to Problem, as problem+json; no problem schema is inlined
    refs, errors = 0, 0
    for path, method, operation in operations(spec):
        for status, answer in operation["responses"].items():
            if int(status) < 400:
                continue
            errors += 1
            assert answer["content"] == {
                "application/problem+json": {"schema": {"$ref": PROBLEM_REF}}
            }, (path, method, status)
            refs += 1
    inline = [
        node
        for node in walk({"paths": spec["paths"], "schemas": {**schemas, "Problem": None}})
        if isinstance(node.get("properties"), dict) and set(node["properties"]) >= PROBLEM_FIELDS
    ]
    assert errors > 100 and refs == errors and inline == []
    assert not [name for name in schemas if name.endswith(("-Input", "-Output"))]
    assert "HTTPValidationError" not in schemas  # (a 422 is a Problem too)
    # the bearer scheme, declared by every operation but the service's
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    ids = []
    for path, method, operation in operations(spec):
        ids.append(operation["operationId"])
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", operation["operationId"]), path
        assert operation["tags"], (path, method)
        public = path in ("/health", "/ready")
        assert ("security" not in operation) is public, (path, method)
        if not public:
            assert operation["security"] == [{"bearerAuth": []}]
            assert "401" in operation["responses"]
    assert len(ids) == len(set(ids))
    assert {"get_episode", "open_episode", "record_consent", "get_timeline", "list_alerts",
            "get_drift", "get_access_log", "assign_audit", "get_health"} <= set(ids)  # fmt: skip
    assert not [i for i in ids if "__" in i]


@pytest.fixture
def client_package(live: Live, tmp_path: Path) -> Iterator[tuple[ModuleType, str]]:
    """The client generated from the served document, importable as `ehqa_client`; and what
    the generator printed."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(spec_of(live)))
    out = tmp_path / "client" / "ehqa_client"
    result = subprocess.run(
        [str(BIN / "openapi-python-client"), "generate", "--path", str(spec),
         "--output-path", str(out), "--meta", "none"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        # (its post-generation hooks run ruff, found on PATH)
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module("ehqa_client"), printed
    finally:
        sys.path.remove(str(out.parent))
        for name in [n for n in sys.modules if n == "ehqa_client" or n.startswith("ehqa_client.")]:
            del sys.modules[name]


def test_a_generated_client_opens_records_and_reads_an_episode_and_gets_problems(
    live: Live, client_package: tuple[ModuleType, str]
) -> None:
    package, printed = client_package
    assert "warning" not in printed.lower(), printed
    modules = {
        name: importlib.import_module(f"ehqa_client.{name}")
        for name in ("models", "api.episodes.open_episode", "api.commands.record_consent",
                     "api.commands.finalise_assessment", "api.episodes.get_episode",
                     "api.episodes.get_timeline", "api.boards.get_drift",
                     "api.access.get_access_log")
    }  # fmt: skip
    m = modules["models"]

    def client(who: str) -> Any:
        return package.AuthenticatedClient(base_url=live.base, token=live.tokens[who])

    jo = client("lp_in")
    opened = modules["api.episodes.open_episode"].sync_detailed(client=jo, body=m.OpenBody(
        episode="EH-1", on=date(2025, 9, 1), child="C-1",
        lead=m.Lead(name="Jo Bright", agency="primary_school")))  # fmt: skip
    assert opened.status_code == 201 and isinstance(opened.parsed, m.EpisodeOut), opened.content
    assert (opened.parsed.episode, opened.parsed.state) == ("EH-1", "referred")
    consent = modules["api.commands.record_consent"].sync(
        "EH-1",
        client=jo,
        body=m.RecordConsentBody(on=date(2025, 9, 2), agencies=["primary_school"]),
    )
    assert isinstance(consent, m.EpisodeOut) and consent.state == "assessing"
    assessed = modules["api.commands.finalise_assessment"].sync(
        "EH-1", client=jo, body=m.FinaliseAssessmentBody(on=date(2025, 9, 20)), idempotency_key="k1"
    )
    assert isinstance(assessed, m.EpisodeOut) and assessed.state == "assessed"
    episode = modules["api.episodes.get_episode"].sync("EH-1", client=jo)
    assert isinstance(episode, m.EpisodeOut)
    assert (
        episode.consent_agencies == ["primary_school"] and episode.lead.agency == "primary_school"
    )
    timeline = modules["api.episodes.get_timeline"].sync("EH-1", client=jo)
    assert isinstance(timeline, list) and all(isinstance(i, m.TimelineItem) for i in timeline)
    assert [(i.on, i.event) for i in timeline] == [
        (date(2025, 9, 1), "Opened"),
        (date(2025, 9, 2), "ConsentRecorded"),
        (date(2025, 9, 20), "AssessmentFinalised"),
    ]
    assert timeline[1].additional_properties["agencies"] == ["primary_school"]

    # an agency outside the consent: the same 404 as for no episode at all (no oracle)
    lee = client("lp_out")
    hidden = modules["api.episodes.get_episode"].sync_detailed("EH-1", client=lee)
    assert hidden.status_code == 404 and isinstance(hidden.parsed, m.Problem)
    assert (hidden.parsed.status, hidden.parsed.title, hidden.parsed.detail) == (
        404, "Not Found", "no episode EH-1")  # fmt: skip
    # an agency caller asking for an authority-wide read: 403
    for name in ("api.boards.get_drift", "api.access.get_access_log"):
        refused = modules[name].sync_detailed(client=lee)
        assert refused.status_code == 403 and isinstance(refused.parsed, m.Problem), name
        assert (refused.parsed.status, refused.parsed.title) == (403, "Forbidden")
        assert refused.parsed.detail
    # no credentials: 401, with the scheme named
    anonymous = package.Client(base_url=live.base)
    unknown = modules["api.episodes.get_episode"].sync_detailed("EH-1", client=anonymous)
    assert unknown.status_code == 401 and isinstance(unknown.parsed, m.Problem)
    assert unknown.parsed.detail == "send Authorization: Bearer <token>"
    assert unknown.headers["www-authenticate"] == "Bearer"
