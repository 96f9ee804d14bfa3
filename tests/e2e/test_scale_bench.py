"""bench/scale.py runs end to end at a tiny size on each store: every stage prints its figure
beside its baseline, and the figures that are counts agree with each other (no timing is
asserted: speed figures belong to the benchmark's own output)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import postgres_server_url

ROOT = Path(__file__).resolve().parents[2]


def run_scale(store: str, growth: int, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scale.py"), "--episodes", "40", "--growth",
         str(growth), "--stores", store, "--api-seconds", "1", "--rate", "20"],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def count(pattern: str, text: str) -> list[int]:
    return [int(found.replace(",", "")) for found in re.findall(pattern, text)]


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_county_benchmark_prints_every_stage_beside_its_baseline(store: str) -> None:
    env = {"EHQA_BENCH_POSTGRES_URL": postgres_server_url()} if store == "postgres" else {}
    sizes = [40] if store == "postgres" else [20, 40]  # (the growth table on one store)
    output = run_scale(store, sizes[0] if len(sizes) > 1 else 0, env)
    for size in sizes:
        assert f"{store}: {size:,} episodes over five years" in output
    for baseline in (
        "baseline, the recorder alone", "baseline, raw log scan", "baseline, SELECT 1",
        "baseline, replaying its events", "baseline, replaying", "baseline, GET /health",
    ):  # fmt: skip
        assert output.count(baseline) >= len(sizes), baseline
    episodes = count(r"write: ([\d,]+) episodes", output)
    episode_events = count(r"episodes, ([\d,]+) episode events", output)
    stored = count(r"\(([\d,]+) stored events\)", output)
    rebuilt = count(r"full rebuild \(every view\): ([\d,]+) events", output)
    assert episodes == sizes
    # every view rebuilt from the whole log: the episodes' events twice (the episodes view and
    # the timeline), the children's records' once (the simulator raises no alert, runs no audit)
    assert rebuilt == [s + e for s, e in zip(stored, episode_events, strict=True)]
    sent = count(r"\(([\d,]+) of 20 requests sent, 0 unexpected\)", output)
    assert sent == [20] * len(sizes)
    assert (f"{store}: growth from 20 to 40 episodes (2.0x)" in output) == (len(sizes) > 1)
