"""The drift board page beside the JSON drift board: p50 and p99 at 100,000 open episodes.

    .venv/bin/python bench/pages.py [--open-episodes 100000] [--store DIR] [--requests 200]

Builds (or reuses, with --store naming a directory that already holds one) an SQLite store with
at least `--open-episodes` open episodes, written by the simulator in waves opened in the last
seven months (its bulk path: whole histories saved in batches, then the views caught up once per
wave). Then starts `ehqa serve` on it, signs in once for a page session and once for an API
token, and times, in the same run, alternating requests for the drift board page
(`GET /web/drift`, its first page, with the counts by rung and the total) and the JSON drift
board (`GET /drift?limit=50`, the same first page). Prints p50 and p99 of each and their ratio
(target: the page within 2x of the JSON).
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

TODAY = date(2026, 11, 20)


def build(directory: Path, wanted_open: int) -> Path:
    """The store at `directory`/pages.db, simulated until `wanted_open` episodes are open."""
    from ehqa.clock import fixed
    from ehqa.services import Services
    from ehqa.simulate import simulate

    path = directory / "pages.db"
    done = directory / "built"
    if done.exists():
        print(f"reusing the store at {path} ({done.read_text().strip()})")
        return path
    services = Services(str(path), clock=fixed(TODAY))
    try:
        started, events, seed, still_open, episodes = time.perf_counter(), 0, 77, 0, 0
        while still_open < wanted_open:
            wave = max(1000, int((wanted_open - still_open) * 1.2))
            events += simulate(services.app, wave, seed, TODAY - timedelta(days=210), TODAY).events
            episodes += wave
            seed += 1
            services.catch_up()
            still_open = services.views.query(
                "SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL"
            )[0][0]
            print(f"  {episodes:,} episodes simulated, {still_open:,} open", flush=True)
        summary = (f"{episodes:,} episodes, {still_open:,} open, {events:,} events, built in"
                   f" {time.perf_counter() - started:.0f}s")  # fmt: skip
        done.write_text(summary + "\n")
        print(summary)
    finally:
        services.close()
    return path
