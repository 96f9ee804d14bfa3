"""The command line's settings: `ehqa.settings.load()` with the global options on top, a bad or
unknown setting a usage error naming it, and `ehqa serve` handing the options it was given to
the server's own environment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .test_cli import EXAMPLE_LINES


def ehqa(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EHQA_") or "_TEST_" in k}
    return subprocess.run([sys.executable, "-m", "ehqa", *args], capture_output=True, text=True,
                          timeout=120, env={**clean, **env})  # fmt: skip


def test_the_options_override_the_environment(tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text(EXAMPLE_LINES[0] + "\n")
    from_env, from_option = tmp_path / "env.db", tmp_path / "option.db"
    assert ehqa("apply", str(source), EHQA_DATABASE_URL=str(from_env)).returncode == 0
    assert from_env.exists()
    done = ehqa("--db", str(from_option), "episode", "EH-0001", EHQA_DATABASE_URL=str(from_env))
    assert done.returncode == 1 and "no episode EH-0001" in done.stderr
    assert from_option.exists()
    other = tmp_path / "policy.db"
    applied = ehqa("--db", str(other), "--default-policy", "bnes", "apply", str(source),
                   EHQA_DEFAULT_POLICY="darlington")  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    shown = ehqa("--db", str(other), "episode", "EH-0001", EHQA_DEFAULT_POLICY="darlington")
    assert "policy: bnes" in shown.stdout, shown.stdout


def test_a_bad_or_unknown_setting_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    unknown = ehqa("--db", db, "drift", EHQA_DATABSE_URL="typo.db")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown setting EHQA_DATABSE_URL (known: ")
    option = ehqa("--db", db, "--default-policy", "", "drift")
    assert (option.returncode, option.stderr.splitlines()[0]) == (
        2, "error: option '--default-policy': String should have at least 1 character")  # fmt: skip
    variable = ehqa("--db", db, "drift", EHQA_DEFAULT_POLICY="")
    assert (variable.returncode, variable.stderr.splitlines()[0]) == (
        2, "error: EHQA_DEFAULT_POLICY: String should have at least 1 character")  # fmt: skip
    today = ehqa("--db", db, "drift", EHQA_TODAY="yesterday")
    assert today.returncode == 2 and today.stderr.startswith("error: EHQA_TODAY: ")
    by = ehqa("--db", db, "drift", EHQA_BY="os:\x1balice")
    assert by.returncode == 2 and by.stderr.startswith("error: EHQA_BY: contains a control")
    interval = ehqa("--db", db, "serve", "--sweep-interval", "0")
    assert (interval.returncode, interval.stderr.splitlines()[0]) == (
        2, "error: option '--sweep-interval': Input should be greater than 0")  # fmt: skip


def test_today_comes_from_the_settings(tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES[:2]) + "\n")
    assert ehqa("--db", db, "apply", str(source), EHQA_TODAY="2025-09-05").returncode == 0
    early = ehqa("--db", db, "drift", EHQA_TODAY="2025-09-05")
    assert early.stdout.strip() == "nothing overdue on 2025-09-05"
    late = ehqa("--db", db, "drift", "--json", EHQA_TODAY="2026-03-01")
    assert late.returncode == 0 and '"clock": "assessment"' in late.stdout


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc/PID/environ")
def test_serve_gives_its_options_to_the_server_as_its_environment(tmp_path: Path) -> None:
    db = str(tmp_path / "served.db")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("EHQA_") or "_TEST_" in k}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "ehqa", "--db", db, "--default-policy", "bnes", "serve", "--port",
         str(port), "--sweep-interval", "7"],
        stdout=log, stderr=subprocess.STDOUT, env={**env, "EHQA_TODAY": "2025-11-20"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        # The `ehqa` process became the server (same pid): its environment is what it was given.
        environ = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        settings = sorted(
            v.decode() for v in environ if v.startswith(b"EHQA_") and b"_TEST_" not in v
        )
        # and one key for the pages' session cookies, made for this run (the same in every worker)
        secret = [s for s in settings if s.startswith("EHQA_SESSION_SECRET=")]
        assert len(secret) == 1 and len(secret[0]) == len("EHQA_SESSION_SECRET=") + 43
        assert [s for s in settings if s not in secret] == [
            f"EHQA_DATABASE_URL={db}", "EHQA_DEFAULT_POLICY=bnes", "EHQA_SWEEP_INTERVAL=7.0",
            "EHQA_TODAY=2025-11-20"]  # fmt: skip
        assert b"uvicorn" in Path(f"/proc/{server.pid}/cmdline").read_bytes()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
