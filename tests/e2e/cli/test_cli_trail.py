"""`ehqa verify` and `ehqa digest` as an operator runs them (the real command, a separate
process, a real SQLite file): exit 0 green, 1 on a break naming the episode, 2 on bad input;
the scheduler writes the digest of the day that ended to EHQA_DIGEST_FILE."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.cli.test_cli import ehqa, ok


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "ehqa.db")
    ok(path, "demo")
    return path


def test_verify_is_green_then_names_an_edited_event_and_exits_1(db: str) -> None:
    assert ok(db, "verify").startswith("verified ")
    assert json.loads(ok(db, "verify", "--episode", "DEMO-0002", "--json"))["ok"] is True
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stored_events SET state = state || x'20' WHERE rowid = 12")
    result = ehqa(db, "verify")
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("break: edited at episode DEMO-"), result.stdout
    assert "log position 12" in result.stdout


def test_bad_input_exits_2_naming_the_line_or_the_option(db: str, tmp_path: Path) -> None:
    digests = tmp_path / "digests.jsonl"
    out = ok(db, "digest", "--file", str(digests))
    assert str(digests) in out and len(digests.read_text().splitlines()) == 1
    assert "1 digest(s) matched" in ok(db, "verify", "--digests", str(digests))
    with digests.open("a") as more:
        more.write('{"date": "2026-01-01", "position": 3, "root": "00", "extra": 1}\n')
    result = ehqa(db, "verify", "--digests", str(digests))
    assert result.returncode == 2 and "line 2: unknown key extra" in result.stderr
    result = ehqa(db, "verify", "--episode", "NO-SUCH-1")
    assert result.returncode == 2 and "no episode 'NO-SUCH-1'" in result.stderr
    result = ehqa(db, "verify", "--episode", "DEMO-0001", "--digests", str(digests))
    assert result.returncode == 2 and "--episode" in result.stderr
    assert ehqa(db, "digest").returncode == 2  # (no file given, none set)


def test_the_scheduler_writes_the_digest_of_the_day_that_ended(db: str, tmp_path: Path) -> None:
    digests = tmp_path / "digests.jsonl"
    env = {**os.environ, "EHQA_DIGEST_FILE": str(digests), "EHQA_TODAY": "2026-11-21"}
    command = [sys.executable, "-m", "ehqa", "--db", db, "scheduler", "run", "--interval", "3600"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not (digests.exists() and digests.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "no digest written"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    lines = digests.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["date"] == "2026-11-20"
    assert "1 digest(s) matched" in ok(db, "verify", "--digests", str(digests))


def test_serve_with_its_scheduler_writes_the_digest_too(db: str, tmp_path: Path) -> None:
    """`ehqa serve` runs the sweep beside its worker (EHQA_BACKGROUND): the same daily digest
    as `ehqa scheduler run`, so a server alone keeps the digest file."""
    import socket

    digests = tmp_path / "digests.jsonl"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "EHQA_DIGEST_FILE": str(digests), "EHQA_TODAY": "2026-11-21"}
    command = [sys.executable, "-m", "ehqa", "--db", db, "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not (digests.exists() and digests.read_text().endswith("\n")):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "no digest written"
            time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    lines = digests.read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["date"] == "2026-11-20"
    assert "1 digest(s) matched" in ok(db, "verify", "--digests", str(digests))
