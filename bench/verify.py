"""Tamper evidence at scale: `ehqa verify`'s walk of the chains beside the raw log scan.

    .venv/bin/python bench/verify.py [--episodes 5000]

For each store (a fresh SQLite file; PostgreSQL too when EHQA_BENCH_POSTGRES_URL or
EHQA_TEST_POSTGRES_URL is set), with `--episodes` simulated episodes (their chain written as
they are saved), in one run:
- the raw notification-log scan (eventsourcing's recorder, a page at a time, as catch-up reads
  it): the baseline;
- verify (the whole log, in one streaming pass: events and chain rows read in step, every event
  hash and running hash recomputed), in events/s and as a share of the scan; target >= 0.5;
- sealing the same log from an empty chain (`ehqa verify --seal`), in events/s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ehqa.chain import seal
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import simulate
from ehqa.store import store_env
from ehqa.trail import LogReader, verify
from projections.runner import scan_rate

TODAY = date(2026, 11, 20)


def best_of(runs: int, measure: Callable[[], tuple[int, float]]) -> float:
    """The best rate of a few runs (neither figure should be caught on a slow moment)."""
    return max(count / seconds for count, seconds in (measure() for _ in range(runs)))


def timed_verify(env: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    outcome, _ = verify(env)
    seconds = time.perf_counter() - started
    assert outcome.broken is None, outcome.broken
    return outcome.events, seconds


def timed_seal(services: Services, env: dict[str, str]) -> tuple[int, float]:
    with LogReader(env) as reader:
        root = reader.head()[1]
    recorder: Any = services.app.recorder  # (a chained recorder: ehqa.chain)
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(f"DELETE FROM {recorder.chain_sql.table}")
    started = time.perf_counter()
    count = sum(seal(services.app.recorder))
    seconds = time.perf_counter() - started
    with LogReader(env) as reader:
        assert reader.head()[1] == root, "sealing again gave another root"
    return count, seconds


def run_store(name: str, url: str, episodes: int) -> None:
    print(f"\n{name}: {episodes:,} simulated episodes")
    services = Services(url, clock=fixed(TODAY))
    env = store_env(url)
    try:
        started = time.perf_counter()
        report = simulate(
            services.app, episodes, 1, TODAY - timedelta(days=730), TODAY, interleaved=True
        )
        print(f"  simulated {report.events:,} events in {time.perf_counter() - started:.1f}s")
        scan = best_of(3, lambda: scan_rate(services.app))
        walk = best_of(3, lambda: timed_verify(env))
        sealed = best_of(1, lambda: timed_seal(services, env))
        print(f"  raw log scan            {scan:>10,.0f} events/s (the baseline)")
        print(f"  verify (whole log)      {walk:>10,.0f} events/s ({walk / scan:.2f} of the scan)")
        print(f"  seal from an empty chain{sealed:>10,.0f} events/s ({sealed / scan:.2f})")
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=5_000)
    args = parser.parse_args()
    run_store("sqlite", str(Path(tempfile.mkdtemp()) / "bench.db"), args.episodes)
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    if not server:
        print("\n(set EHQA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test)")
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        run_store("postgres", f"{server}?schema={schema}", args.episodes)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
