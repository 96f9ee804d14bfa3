"""GET /verify over real HTTP (uvicorn on 127.0.0.1, a real SQLite file): admins, inspectors and
auditors may walk the log's chains; others are refused; an edited row is named by episode."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aggregates.access import Role
from ehqa import demo
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.api.conftest import TODAY

PORTS = range(8640, 8650)  # this feature's own range on a shared machine


@dataclass(frozen=True)
class Server:
    base: str
    tokens: dict[str, str]
    db: str


def socket_in_range() -> socket.socket:
    """A socket bound to the first free port of the range (kept bound: no other test can take
    the port between the choice and the server's start)."""
    for port in PORTS:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            sock.close()
            continue
        return sock
    pytest.fail(f"no free port in {PORTS}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db = str(tmp_path / "ehqa.db")
    services = Services(db, clock=fixed(TODAY))
    demo.build(services.app)
    app = create_app(services)
    book = app.state.api.tokens
    tokens = {
        "inspector": book.create("Ofsted inspector", Role.INSPECTOR),
        "auditor": book.create("Practice auditor", Role.AUDITOR),
        "lp": book.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    }
    sock = socket_in_range()
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not uv.started:
            assert thread.is_alive() and time.monotonic() < deadline, "no server"
            time.sleep(0.1)
        yield Server(base, tokens, db)
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        sock.close()
        services.close()


def get(server: Server, path: str, who: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        server.base + path, headers={"Authorization": f"Bearer {server.tokens[who]}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_inspectors_and_auditors_verify_the_log_and_see_an_edit_named(server: Server) -> None:
    status, body = get(server, "/verify", "inspector")
    assert status == 200 and body["ok"] is True and body["events"] > 40
    status, body = get(server, "/verify?episode=DEMO-0003", "auditor")
    assert status == 200 and body["ok"] is True
    with sqlite3.connect(server.db) as conn:
        conn.execute("UPDATE stored_events SET state = state || x'20' WHERE rowid = 20")
    status, body = get(server, "/verify", "auditor")
    assert status == 200 and body["ok"] is False
    broken = body["broken"]
    assert broken["kind"] == "edited" and broken["position"] == 20
    assert broken["aggregate"].startswith("episode DEMO-")


def test_others_unknown_parameters_and_unknown_episodes_are_refused(server: Server) -> None:
    assert get(server, "/verify", "lp")[0] == 403
    assert get(server, "/verify?since=1", "inspector")[0] == 400
    assert get(server, "/verify?episode=NO-SUCH-1", "inspector")[0] == 404
