"""`ehqa serve` as a council runs it: real HTTP on loopback, schemathesis against its OpenAPI
document, and two workers on PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ehqa.services import Services

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ehqa(db: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "ehqa", "--db", db, *args], capture_output=True,
                            text=True, timeout=120, env={**os.environ, **(env or {})})  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@contextmanager
def serving(
    db: str, tmp_path: Path, *extra: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`ehqa serve` on a free port of loopback. A port found free may be taken before the server
    binds it (by a server of another test running at the same time, or by an outgoing
    connection): then it is tried again on another port. The server is ready once its own log
    says it is listening and /health answers, so another process's server is never taken for it."""
    for _ in range(5):
        port = free_port()
        log_path = tmp_path / f"serve-{port}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ehqa", "--db", db, "serve", "--port", str(port), *extra],
                stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "EHQA_TODAY": "2025-11-20", **(env or {})},
                start_new_session=True,  # its workers too can be stopped as one group
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            if not _started(process, base, log_path):
                continue  # the port was taken first: try another
            yield base
            return
        finally:
            _stop(process)
    raise AssertionError("five free ports were each taken before the server could bind them")


def _started(process: subprocess.Popen[bytes], base: str, log_path: Path) -> bool:
    """Wait until the server listens on its port and answers; False if the port was taken (its
    log is then renamed, out of the way of a test that reads the serve-*.log files)."""
    listening = f"Uvicorn running on {base} "
    deadline = time.monotonic() + 60
    while True:
        exited = process.poll() is not None
        log = log_path.read_text()  # (read after the poll: all of it, if the server has exited)
        if "address already in use" in log:
            log_path.rename(log_path.with_name(f"taken-{log_path.name}.txt"))
            return False
        assert not exited, log
        if listening in log:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    return True
            except (urllib.error.URLError, OSError):
                pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # whatever of the group is left


def call(base: str, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_schemathesis_finds_no_server_error_and_no_response_outside_its_schema(
    store_url: str, tmp_path: Path
) -> None:
    db = store_url
    token = ehqa(db, "tokens", "create", "--role", "admin", "--name", "schemathesis")
    with serving(db, tmp_path) as base:
        status, _ = call(base, token, "POST", "/episodes", {"episode": "EH-1", "on": "2025-09-01", "child": "C-1",
                                                            "lead": {"name": "Jo", "agency": "school"}})  # fmt: skip
        assert status == 201
        result = subprocess.run(
            [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", "-H", f"Authorization: Bearer {token}",
             "--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
             "--max-examples", "15", "--phases", "examples,coverage,fuzzing", "--no-color"],
            capture_output=True, text=True, timeout=900, cwd=tmp_path,  # (its cache stays out of the repo)
        )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.postgres
def test_two_workers_on_postgres_serve_one_consistent_store(
    postgres_url: str, tmp_path: Path
) -> None:
    token = ehqa(
        postgres_url, "tokens", "create", "--role", "coordinator", "--name", "Co-ordinator"
    )
    with serving(postgres_url, tmp_path, "--workers", "2", "--sweep-interval", "1") as base:
        for n in range(6):
            status, body = call(base, token, "POST", "/episodes", {
                "episode": f"EH-{n}", "on": "2025-09-01", "child": f"C-{n}",
                "lead": {"name": "Jo", "agency": "school"}})  # fmt: skip
            assert status == 201, body
        for n in range(6):
            status, body = call(base, token, "POST", f"/episodes/EH-{n}/record_consent",
                                {"on": "2025-09-02", "agencies": ["school"]})  # fmt: skip
            assert (status, body["state"]) == (200, "assessing"), body
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, rows = call(base, token, "GET", "/drift")
            if status == 200 and len({r["episode"] for r in rows}) == 6:
                break
            time.sleep(0.2)
        assert {r["episode"] for r in rows} == {f"EH-{n}" for n in range(6)}
        while time.monotonic() < deadline:  # each worker wakes a sweep every second
            status, alerts = call(base, token, "GET", "/alerts")
            if status == 200 and len({a["episode"] for a in alerts}) == 6:
                break
            time.sleep(0.2)
        ids = [a["id"] for a in alerts]
        assert {a["episode"] for a in alerts} == {f"EH-{n}" for n in range(6)}
        assert len(ids) == len(set(ids))
        time.sleep(2)  # more sweeps, from both workers: still nothing raised twice
        status, again = call(base, token, "GET", "/alerts")
        assert sorted(a["id"] for a in again) == sorted(ids)
    store = Services(postgres_url)
    try:
        counts = Counter(
            store.app.mapper.to_domain_event(n).alert_id  # type: ignore[attr-defined]
            for n in store.app.recorder.select_notifications(start=1, limit=10**6)
            if n.topic.endswith(".AlertRaised")
        )
    finally:
        store.close()
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    log = "".join(p.read_text() for p in tmp_path.glob("serve-*.log"))
    assert log.count("Started server process") == 2, log[-3000:]


def children_of(pid: int) -> list[int]:
    """The process's children, started by any of its threads (each thread lists its own)."""
    tasks = Path(f"/proc/{pid}/task").glob("*/children")
    return [int(child) for task in tasks for child in task.read_text().split()]


def running(pid: int) -> bool:
    """False once the process is gone (or a zombie waiting for a parent to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def sweepers_of(pid: int, wait: bool = True) -> int | None:
    """The server's one sweep process (waiting up to 30 s for it, if `wait`)."""
    deadline = time.monotonic() + (30 if wait else 0)
    while True:
        found = [child for child in children_of(pid) if running(child)
                 and b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]  # fmt: skip
        if found or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    assert len(found) <= 1, found
    assert found or not wait, "no sweep process beside the server"
    return found[0] if found else None


@contextmanager
def raw_server(db: str, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`ehqa serve` started and answering, its process handed over to be killed as a test
    needs (whatever of its group is left is killed at the end)."""
    port = free_port()
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "ehqa", "--db", db, "serve", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "EHQA_TODAY": "2025-11-20"},
                                  start_new_session=True)  # fmt: skip
    try:
        assert _started(server, f"http://127.0.0.1:{port}", log_path)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)


def test_the_sweep_runs_in_a_process_of_its_own_that_ends_when_the_server_is_killed(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A first sweep takes a core: it runs beside the server, not in it; and a server killed
    outright (no shutdown) leaves no sweeper behind writing to the store."""
    with raw_server(sqlite_url, tmp_path / "serve.log") as server:
        sweeper = sweepers_of(server.pid)
        server.kill()
        server.wait(30)
        deadline = time.monotonic() + 30
        while running(sweeper):
            assert time.monotonic() < deadline, "the sweep process outlived the killed server"
            time.sleep(0.2)


def test_a_sweep_process_that_dies_is_started_again(sqlite_url: str, tmp_path: Path) -> None:
    """Killed by the system (for memory, say), the sweep's process is replaced, and the server
    says so in its log: alerts never silently stop."""
    log_path = tmp_path / "serve.log"
    with raw_server(sqlite_url, log_path) as server:
        first = sweepers_of(server.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while sweepers_of(server.pid, wait=False) in (None, first):
            assert time.monotonic() < deadline, "the sweep process was not started again"
            time.sleep(0.2)
        assert "the sweep's process ended (exit code -9)" in log_path.read_text()
