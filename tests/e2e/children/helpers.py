"""What the child-record tests share: the CLI run as a user runs it, and a store per test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

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
