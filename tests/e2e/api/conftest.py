"""A live server for the tests that need real HTTP: the app served by uvicorn in a thread on a
free 127.0.0.1 port, over an SQLite file of the test's own, with a token per person."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.services import Services

TODAY = date(2025, 11, 20)
PEOPLE = {
    "lp_in": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    "lp_out": ("Lee Walsh", Role.LEAD_PROFESSIONAL, "youth_service"),
    "coordinator": ("Partnership co-ordinator", Role.COORDINATOR, None),
}


@dataclass(frozen=True)
class Live:
    base: str
    tokens: dict[str, str]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Any, stop_within: float = 60) -> Iterator[str]:
    """`app` served by uvicorn on a free port in a thread, once /health answers: its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except OSError:
                assert thread.is_alive() and time.monotonic() < deadline, "no server"
                time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=stop_within)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    services = Services(str(tmp_path / "ehqa.db"), clock=fixed(TODAY))
    app = create_app(services)
    tokens = {key: app.state.api.tokens.create(*person) for key, person in PEOPLE.items()}
    try:
        with served(app, stop_within=30) as base:
            yield Live(base, tokens)
    finally:
        services.close()
