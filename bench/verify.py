"""Tamper evidence at scale: `ehqa verify`'s walk of the chains beside the raw log scan.

    .venv/bin/python bench/verify.py [--episodes 5000]

For each store (a fresh SQLite file; PostgreSQL too when EHQA_BENCH_POSTGRES_URL or
EHQA_TEST_POSTGRES_URL is set), with `--episodes` simulated episodes (their chain written as
they are saved), in one run:
- the raw notification-log scan (eventsourcing's recorder, a page at a time, as catch-up reads
  it): the baseline;
- verify (the whole log, in one streaming pass: events and chain rows read in step, every event
  hash and running hash recomputed), in events/s and as a share of the scan; target >= 0.5;
- sealing the same log from an empty chain (`ehqa verify --seal`), in events/s;
- what chaining costs a write: `--write-episodes` simulated episodes saved through the chained
  recorder, beside the same saved through eventsourcing's own recorder (no chain), each into a
  fresh store of the same kind.
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
from eventsourcing.persistence import ProcessRecorder
from eventsourcing.postgres import PostgresFactory, PostgresProcessRecorder

from ehqa.application import EhqaApplication
from ehqa.chain import seal
from ehqa.clock import fixed
from ehqa.persistence import TRACKING_TABLE
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


class Unchained(EhqaApplication):
    """The application on eventsourcing's own process recorder: the events, no chain."""

    def construct_recorder(self) -> ProcessRecorder:
        factory = self.factory
        if isinstance(factory, PostgresFactory):
            recorder = PostgresProcessRecorder(
                factory.datastore, events_table_name="ehqa_events",
                tracking_table_name=TRACKING_TABLE,
            )  # fmt: skip
            recorder.create_table()
            return recorder
        return factory.process_recorder()


def write_rate(app: EhqaApplication, episodes: int) -> float:
    started = time.perf_counter()
    report = simulate(app, episodes, 2, TODAY - timedelta(days=730), TODAY, interleaved=True)
    return report.events / (time.perf_counter() - started)


def writes(fresh: Callable[[], str], episodes: int) -> None:
    rates: dict[type[EhqaApplication], float] = {EhqaApplication: 0.0, Unchained: 0.0}
    for _ in range(2):  # (best of two each, taken in turn: neither caught on a slow moment)
        for kind in rates:
            app = kind(store_env(fresh()), clock=fixed(TODAY))
            try:
                rates[kind] = max(rates[kind], write_rate(app, episodes))
            finally:
                app.close()
    chained, plain = rates[EhqaApplication], rates[Unchained]
    print(
        f"  writes, without a chain {plain:>10,.0f} events/s (the baseline; {episodes:,} episodes)"
    )
    print(f"  writes, with the chain  {chained:>10,.0f} events/s ({chained / plain:.2f})")


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
    parser.add_argument("--write-episodes", type=int, default=1_000)
    args = parser.parse_args()
    run_store("sqlite", str(Path(tempfile.mkdtemp()) / "bench.db"), args.episodes)
    writes(lambda: str(Path(tempfile.mkdtemp()) / "writes.db"), args.write_episodes)
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    if not server:
        print("\n(set EHQA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test)")
        return
    schemas: list[str] = []

    def fresh() -> str:
        schemas.append(f"bench_{uuid.uuid4().hex[:8]}")
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schemas[-1]}")
        return f"{server}?schema={schemas[-1]}"

    try:
        run_store("postgres", fresh(), args.episodes)
        writes(fresh, args.write_episodes)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
