"""Read models at scale: rebuild speed beside the raw log scan, and query latency beside replay.

    .venv/bin/python bench/views.py [--episodes 10000] [--open-episodes 100000]

For each store (a fresh SQLite file; PostgreSQL too when EHQA_BENCH_POSTGRES_URL or
EHQA_TEST_POSTGRES_URL is set), with `--episodes` simulated episodes:
- rebuild events/s of each view, beside the raw notification-log scan rate of the same store,
  and beside what any projection of domain events must do at least: read and decode every
  event (and replay the episodes' events into their aggregates), writing nothing;
- median latency of "overdue as at today" (the drift board's first page of 50 and its count)
  and of one episode's timeline, beside answering the same by replaying the aggregates.
Then on SQLite only, the same query latencies with at least `--open-episodes` open episodes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import psycopg
from eventsourcing.persistence import Notification

from aggregates.clocks import Status
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import references, simulate
from projections.runner import scan_rate

TODAY = date(2026, 11, 20)


def median_ms(action: Callable[[], object], runs: int = 25) -> float:
    action()  # warm
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def replay_overdue_seconds(services: Services, refs: list[str], sample: int) -> tuple[float, int]:
    """Seconds to answer "overdue today" by replaying every aggregate (timed on a sample)."""
    chosen = random.Random(1).sample(refs, min(sample, len(refs)))
    started = time.perf_counter()
    for ref in chosen:
        episode = services.app.get_episode(ref)
        [e for e in services.app.clocks(episode, TODAY) if e.status is Status.OVERDUE]
    per_episode = (time.perf_counter() - started) / len(chosen)
    return per_episode * len(refs), len(chosen)


def queries(services: Services, refs: list[str], label: str) -> None:
    picks = random.Random(2)
    board = median_ms(
        lambda: (services.read.drift(TODAY, limit=50), services.read.drift_count(TODAY))
    )
    timeline = median_ms(lambda: services.read.timeline(picks.choice(refs)))
    one_replay = median_ms(lambda: services.app.timeline(picks.choice(refs)))
    replay, sampled = replay_overdue_seconds(services, refs, 500)
    open_count = services.views.query("SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL")[
        0
    ][0]
    print(f"  queries at {len(refs):,} episodes ({open_count:,} open) [{label}]")
    print(
        f"    overdue as at today (page of 50 + count): median {board:8.2f} ms"
        f"   | by replaying every aggregate: {replay * 1000:,.0f} ms (timed on {sampled})"
    )
    print(
        f"    one episode's timeline:                 median {timeline:8.2f} ms"
        f"   | by replaying its events: {one_replay:.2f} ms"
    )


def best_of(runs: int, measure: Callable[[], tuple[int, float]]) -> float:
    """The best rate of a few runs (a baseline should not be caught on a slow moment)."""
    return max(count / seconds for count, seconds in (measure() for _ in range(runs)))


def decode_rate(services: Services, replay: bool) -> tuple[int, float]:
    """Read and decode the whole log (and, with `replay`, apply each episode event to its
    aggregate, writing nothing): what any projection of domain events must do at least."""
    app, episode_topics = services.app, set(services.projection("episodes").topics)
    aggregates: dict[object, object] = {}

    def decode(page: Sequence[Notification]) -> None:
        for notification in page:
            event = app.mapper.to_domain_event(notification)
            if replay and notification.topic in episode_topics:
                key = event.originator_id
                aggregates[key] = event.mutate(aggregates.get(key))  # type: ignore[attr-defined]

    return scan_rate(app, decode)


def rebuilds(services: Services) -> None:
    scan = best_of(3, lambda: scan_rate(services.app))
    decode = best_of(2, lambda: decode_rate(services, replay=False))
    replay = best_of(2, lambda: decode_rate(services, replay=True))
    log = services.app.recorder.max_notification_id() or 0
    print(f"  raw notification log: {log:,} notifications; scan {scan:,.0f}/s (the baseline)")
    print(
        f"  scan + decode, no view:             {decode:>10,.0f}/s  ({decode / scan:.2f} of the scan)"
    )
    print(
        f"  scan + decode + replay, no view:    {replay:>10,.0f}/s  ({replay / scan:.2f} of the scan)"
    )

    def one(name: str, **options: object) -> tuple[int, float]:
        started = time.perf_counter()
        applied = services.rebuild(name, **options)
        return applied, time.perf_counter() - started

    total_events, total_seconds = 0, 0.0
    for projection in services.projections:
        applied, elapsed = one(projection.name)
        if not applied:  # (the simulator raises no alerts and runs no audits)
            print(f"  rebuild {projection.name:<9} nothing in the log for this view")
            continue
        total_events += applied
        total_seconds += elapsed
        print(
            f"  rebuild {projection.name:<9} {applied:>9,} events {applied / elapsed:>10,.0f}/s"
            f"  ({applied / elapsed / scan:.2f} of the scan)"
        )
    applied, elapsed = one("episodes", replay=False)
    print(
        "  (episodes in log order, as rebuilds were before the replay by episode, batches"
        f" ending at 20,000 episodes touched: {applied / elapsed:,.0f}/s)"
    )
    print(
        f"  rebuild all views     {total_events:>9,} events {total_events / total_seconds:>10,.0f}/s"
    )


def run_store(name: str, url: str, episodes: int, seed: int) -> None:
    print(f"\n{name}: {episodes:,} simulated episodes")
    services = Services(url, clock=fixed(TODAY))
    try:
        started = time.perf_counter()
        report = simulate(
            services.app, episodes, seed, TODAY - timedelta(days=730), TODAY, interleaved=True
        )
        print(
            f"  simulated {report.events:,} events in {time.perf_counter() - started:.1f}s"
            " (saved in business-date order across episodes, as a live log is written)"
        )
        rebuilds(services)
        queries(services, list(references(seed, episodes)), name)
    finally:
        services.close()


def run_open(wanted_open: int) -> None:
    """At least `wanted_open` open episodes: waves opened in the last 7 months until enough are."""
    print(f"\nsqlite: at least {wanted_open:,} open episodes (opened in the last 7 months)")
    url = str(Path(tempfile.mkdtemp()) / "open.db")
    services = Services(url, clock=fixed(TODAY))
    try:
        refs: list[str] = []
        started, events, seed, still_open = time.perf_counter(), 0, 77, 0
        while still_open < wanted_open:
            wave = max(1000, int((wanted_open - still_open) * 1.2))
            events += simulate(services.app, wave, seed, TODAY - timedelta(days=210), TODAY).events
            refs += references(seed, wave)
            seed += 1
            services.catch_up()
            still_open = services.views.query(
                "SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL"
            )[0][0]
        print(
            f"  simulated {len(refs):,} episodes, {events:,} events, and caught the views up"
            f" in {time.perf_counter() - started:.1f}s"
        )
        queries(services, refs, "sqlite")
    finally:
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--open-episodes", type=int, default=100_000)
    args = parser.parse_args()
    run_store("sqlite", str(Path(tempfile.mkdtemp()) / "bench.db"), args.episodes, 1)
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    if server:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            run_store("postgres", f"{server}?schema={schema}", args.episodes, 1)
        finally:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    else:
        print(
            "\n(set EHQA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test for PostgreSQL)"
        )
    if args.open_episodes:
        run_open(args.open_episodes)


if __name__ == "__main__":
    main()
