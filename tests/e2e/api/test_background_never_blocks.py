"""The first request after a start is not held by the sweep: with the sweep's process stubbed to
sit inside a write transaction until told to go, reads are answered over real HTTP meanwhile,
and their access-log entries reach the log once it lets go; and the sweep's process ends with
the server."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from aggregates.access import Role
from ehqa.api import background, create_app
from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.api.conftest import served

TODAY = date(2025, 11, 20)
HELD = 120  # seconds the stubbed sweep holds its transaction at most (released by the test)


def get(base: str, token: str, path: str) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:  # (less than HELD)
        return response.status, json.loads(response.read())


def slow_sweeping(database_url: str, options: dict[str, Any], *_: Any) -> None:
    """In the sweep's process: hold the store's write lock (SQLite) or a row lock (PostgreSQL)
    until the test lets go (a file it makes), as a sweep raising a great many alerts would."""
    signals = os.environ["SLOW_SWEEP_DIR"]
    services = Services(database_url, **options)
    with services.views.transaction() as cur:
        cur.execute("UPDATE ehqa_tracking SET position = position")
        open(f"{signals}/inside", "w").close()
        deadline = time.monotonic() + HELD
        while not os.path.exists(f"{signals}/release") and time.monotonic() < deadline:
            time.sleep(0.05)
    services.close()


def test_reads_are_answered_while_the_first_sweep_holds_its_transaction(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(background, "sweeping", slow_sweeping)
    monkeypatch.setenv("SLOW_SWEEP_DIR", str(tmp_path))
    inside, release = tmp_path / "inside", tmp_path / "release"

    def wait_inside() -> bool:
        deadline = time.monotonic() + 60
        while not inside.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return inside.exists()

    services = Services(store_url, clock=fixed(TODAY))
    try:
        services.app.open_episode("EH-1", child="C-1", lead_name="Jo Bright",
                                  lead_agency="primary_school", on=date(2025, 9, 1))  # fmt: skip
        services.catch_up()
        app = create_app(services, background=True, sweep_interval=3600)
        token = app.state.api.tokens.create("Co-ordinator", Role.COORDINATOR, None)
        admin = app.state.api.tokens.create("Admin", Role.ADMIN, None)
        with served(app) as base:
            assert wait_inside(), "the sweep did not start"
            try:
                for path in ("/episodes/EH-1", "/episodes/EH-1/timeline", "/drift"):
                    status, _ = get(base, token, path)
                    assert status == 200
                    assert not release.exists()  # (still held: answered)
            finally:
                release.touch()
            deadline = time.monotonic() + 60  # (the group commit waits for the write lock)
            while time.monotonic() < deadline:
                _, entries = get(base, admin, "/access-log")
                if {"episode", "timeline", "drift board"} <= {e["action"] for e in entries}:
                    break
                time.sleep(0.2)
            assert {"episode", "timeline", "drift board"} <= {e["action"] for e in entries}
    finally:
        release.touch()
        services.close()
