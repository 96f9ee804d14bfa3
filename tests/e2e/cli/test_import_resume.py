"""`ehqa apply` is whole or resumable, never doubled: a bad line anywhere records nothing, and a
run killed at any moment continues, when the same file is applied again, after the last line
it applied (each batch of lines is saved in one transaction with the tracking record of its
last line)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from aggregates.episode import episode_id
from ehqa.application import EhqaApplication
from ehqa.cli.applying import BATCH_LINES
from ehqa.store import store_env
from tests.e2e.cli.test_cli import EXAMPLE_LINES, as_json, ehqa, ok

EPISODES = 72  # files of 504 and 312 lines: several batches each
KILLS_PER_FILE = 5  # x 2 files = 10 killed runs on each store


def test_a_bad_line_3_records_nothing_and_the_corrected_file_then_applies_whole(
    store_url: str, tmp_path: Path
) -> None:
    bad = [*EXAMPLE_LINES]
    bad[2] = '{"cmd":"see_child","episode":"EH-0001","on":"2025-09-15","colour":"red"}'
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(bad) + "\n")
    result = ehqa(store_url, "apply", str(source))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "line 3: field 'colour': Extra inputs are not permitted",
        "nothing was recorded: correct the file and apply it again",
    ]
    assert ehqa(store_url, "episode", "EH-0001").returncode == 1  # line 1 was not recorded

    source.write_text("\n".join(EXAMPLE_LINES) + "\n")
    assert ok(store_url, "apply", str(source)).strip() == "applied 15 command(s)"
    assert as_json(store_url, "episode", "EH-0001")["version"] == 8


def test_a_lifecycle_refusal_late_in_the_file_records_nothing(store_url: str) -> None:
    lines = [*EXAMPLE_LINES, '{"cmd":"decide_fam","episode":"EH-0002","on":"2025-10-20"}']
    result = ehqa(store_url, "apply", "-", stdin="\n".join(lines))
    assert result.returncode == 1
    assert result.stderr.startswith("line 16: cannot "), result.stderr
    assert ehqa(store_url, "episode", "EH-0001").returncode == 1


def test_dry_run_checks_the_whole_file_and_records_nothing(sqlite_url: str, tmp_path: Path) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES) + "\n")
    text = ok(sqlite_url, "apply", "--dry-run", str(source))
    assert text.splitlines()[0] == "would apply 15 command(s); recorded nothing"
    assert any(line.split() == ["open", "3"] for line in text.splitlines())
    assert ehqa(sqlite_url, "episode", "EH-0001").returncode == 1
    bad = [*EXAMPLE_LINES[:5], '{"cmd":"hold_fam","episode":"EH-0001","on":"2025-09-20"}']
    result = ehqa(sqlite_url, "apply", "--dry-run", "-", stdin="\n".join(bad))
    assert result.returncode == 1 and result.stderr.startswith("line 6: "), result.stderr
    assert ok(sqlite_url, "apply", str(source)).strip() == "applied 15 command(s)"
    assert ok(sqlite_url, "apply", "--dry-run", str(source)).splitlines()[0] == (
        "would apply 0 command(s) (15 already applied earlier); recorded nothing"
    )


def test_a_partly_applied_file_continues_and_a_fully_applied_one_applies_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(EXAMPLE_LINES) + "\n")
    assert ok(sqlite_url, "apply", str(source)).strip() == "applied 15 command(s)"
    assert ok(sqlite_url, "apply", str(source)).strip() == (
        "applied 0 command(s): all 15 were applied earlier"
    )
    # A different file (other bytes) is not deduplicated: its repeated open is refused.
    other = tmp_path / "other.jsonl"
    other.write_text("\n".join(EXAMPLE_LINES[:2]) + "\n\n")
    result = ehqa(sqlite_url, "apply", str(other))
    assert result.returncode == 1 and "episode EH-0001 already exists" in result.stderr


# ---- killed at random moments ---------------------------------------------------------------


def _line(cmd: str, n: int, on: date, **fields: Any) -> str:
    return json.dumps({"cmd": cmd, "episode": f"EH-{n:04d}", "on": on.isoformat(), **fields})


def histories() -> tuple[list[str], list[str]]:
    """A file that opens episodes and takes them to a plan, step by step across all of them;
    and a file WITHOUT open lines that carries the same episodes on (reviews, contacts,
    closures)."""
    first, then = [], []
    steps = [("record_consent", 1, {"agencies": ["primary_school"]}),
             ("see_child", 3, {}), ("finalise_assessment", 10, {}), ("decide_fam", 12, {}),
             ("hold_fam", 20, {}), ("circulate_plan", 22, {})]  # fmt: skip
    start = [date(2025, 1, 6) + timedelta(days=n % 40) for n in range(EPISODES)]
    lead = {"name": "Jo Bright", "agency": "primary_school"}
    first += [_line("open", n, start[n], child=f"C-{n}", lead=lead) for n in range(EPISODES)]
    for cmd, days, fields in steps:
        first += [_line(cmd, n, start[n] + timedelta(days=days), **fields) for n in range(EPISODES)]
    later = [("hold_review", 50, {"plan_changed": True}), ("see_child", 55, {}),
             ("hold_review", 100, {}), ("see_child", 101, {})]  # fmt: skip
    for cmd, days, fields in later:
        then += [_line(cmd, n, start[n] + timedelta(days=days), **fields) for n in range(EPISODES)]
    then += [_line("close", n, start[n] + timedelta(days=120), reason="outcomes_achieved",
                   summary="Family thriving") for n in range(0, EPISODES, 3)]  # fmt: skip
    return first, then


def recorded(url: str) -> dict[str, Any]:
    """Every episode's events (kind and fields, without when they were recorded) and the number
    of events in the whole log."""
    app = EhqaApplication(store_env(url))
    try:
        episodes = {}
        for n in range(EPISODES):
            events = app.repository.event_store.get(episode_id(f"EH-{n:04d}"))
            episodes[n] = [
                (e.originator_version, type(e).__name__,
                 {k: v for k, v in e.__dict__.items() if k not in ("timestamp", "originator_id")})
                for e in events
            ]  # fmt: skip
        log = sum(1 for _ in app.recorder.select_notifications(start=None, limit=1_000_000))
        return {"episodes": episodes, "log": log}
    finally:
        app.close()


def apply_process(url: str, file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ehqa", "--db", url, "apply", str(file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "EHQA_TODAY": "2026-01-15"},
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any], float]:
    """The two files and what a clean single run of each, one after the other, records (with
    how long the longer run took)."""
    folder = tmp_path_factory.mktemp("import")
    first, then = histories()
    paths = (folder / "open.jsonl", folder / "no-open.jsonl")
    paths[0].write_text("\n".join(first) + "\n")
    paths[1].write_text("\n".join(then) + "\n")
    clean = str(folder / "clean.db")
    longest = 0.0
    for path, count in zip(paths, (len(first), len(then)), strict=True):
        started = time.monotonic()
        out, err = apply_process(clean, path).communicate(timeout=120)
        longest = max(longest, time.monotonic() - started)
        assert out.strip() == f"applied {count} command(s)", err
    return paths[0], paths[1], recorded(clean), longest


def test_killed_at_random_moments_every_line_is_applied_exactly_once(
    store_url: str, files: tuple[Path, Path, dict[str, Any], float]
) -> None:
    first, then, expected, longest = files
    seed = random.randrange(1_000_000)
    chance = random.Random(seed)
    stopped_at: list[int] = []
    watcher = EhqaApplication(store_env(store_url))
    for path in (first, then):
        name = "import:" + hashlib.sha256(path.read_bytes()).hexdigest()
        total = len(path.read_text().splitlines())
        for kill in range(KILLS_PER_FILE):
            position = watcher.recorder.max_tracking_id(name) or 0
            process = apply_process(store_url, path)
            # the first kill of a file, and every other one, just after a chosen line with at least
            # two batches still to save behind it (so the kill, sent when the watcher sees that line
            # committed, lands before the file is whole however busy the machine: CI once saw the
            # last batch commit first every time); the others at any moment: starting, checking,
            # applying
            last_target = total - 2 * BATCH_LINES
            if kill % 2 == 1 or position >= last_target:
                time.sleep(chance.uniform(0.1, longest))
            else:  # just after a randomly chosen line further on is committed
                target = chance.randrange(position + 1, last_target)
                while (
                    process.poll() is None
                    and (watcher.recorder.max_tracking_id(name) or 0) < target
                ):
                    time.sleep(0.002)
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=60)
            stopped_at.append(watcher.recorder.max_tracking_id(name) or 0)
        out, err = apply_process(store_url, path).communicate(timeout=120)
        assert out.startswith("applied "), (seed, err)
    again, err = apply_process(store_url, then).communicate(timeout=120)
    assert again.startswith("applied 0 command(s): all "), (seed, again, err)
    watcher.close()
    assert recorded(store_url) == expected, f"seed {seed}, killed after lines {stopped_at}"
    lines = len(first.read_text().splitlines()), len(then.read_text().splitlines())
    print(f"seed {seed}: killed after lines {stopped_at} of {lines}")
    ends = [lines[0]] * KILLS_PER_FILE + [lines[1]] * KILLS_PER_FILE
    assert any(0 < at < end for at, end in zip(stopped_at, ends, strict=True)), stopped_at
