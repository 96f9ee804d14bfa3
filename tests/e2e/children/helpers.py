"""What the child-record tests share: the CLI run as a user runs it, and a store per test."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.services import Services

TODAY = "2026-01-15"


def ehqa(url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`ehqa --db URL ARGS...` in a process of its own, as at TODAY."""
    return subprocess.run(
        [sys.executable, "-m", "ehqa", "--db", url, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "EHQA_TODAY": TODAY, **env},
    )


def ok(url: str, *args: str, **env: str) -> str:
    done = ehqa(url, *args, **env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def child_json(url: str, child: str, **env: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(ok(url, "child", child, "--json", **env))
    return found


def open_episode(url: str, reference: str, child: str, on: str = "2025-09-01", **env: str) -> None:
    ok(url, "record", "open", reference, "--on", on, "--child", child, "--lead-name", "Jo Bright",
       "--lead-agency", "primary_school", **env)  # fmt: skip


PORTS = range(8650, 8660)  # the ports these tests may serve on


@contextmanager
def serving(services: Services) -> Iterator[tuple[str, dict[str, str]]]:
    """The API over `services`, served by uvicorn in a thread on a free port of PORTS: its base
    address and a token per role (admin, coordinator, lead professional of primary_school)."""
    app = create_app(services)
    tokens = {
        "admin": app.state.api.tokens.create("Ann Admin", Role.ADMIN, None),
        "coordinator": app.state.api.tokens.create("Cy Coord", Role.COORDINATOR, None),
        "lead": app.state.api.tokens.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
        "other": app.state.api.tokens.create("Lee Walsh", Role.LEAD_PROFESSIONAL, "youth_service"),
    }
    port = next(p for p in PORTS if _free(p))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield base, tokens
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One request over real HTTP: the status and the JSON answer."""
    response = httpx.request(method, base + path, json=body, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return response.status_code, response.json()
