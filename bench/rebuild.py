"""Rebuild time, events/s, peak memory and clock derivations of each view at several log sizes.

    .venv/bin/python bench/rebuild.py [--episodes 5000,50000] [--stores sqlite,postgres]
                                      [--repeat 1] [--keep DIR]

For each store (PostgreSQL when EHQA_BENCH_POSTGRES_URL or EHQA_TEST_POSTGRES_URL names a
server) and each size, a fresh store gets that many simulated episodes over two years, saved in
business-date order across episodes as a live log is written (`ehqa simulate --interleaved`).
Then, each in a child process of its own (so that its peak resident size is its own, read with
`os.wait4`):
- the floors no projection can beat, writing nothing: reading the view's own events from the
  log a page at a time (scan), and decoding them (scan + decode); for the episodes view, also
  replaying them into their aggregates, every aggregate held in memory (scan + decode + replay),
  and read episode by episode as the rebuild reads them, decoded and replayed (by episode +
  decode + replay: how fast the rebuild's own reads go at each size);
- the rebuild of each view: seconds, events/s, its ratio to its floor (episodes: scan + decode +
  replay; the others: scan + decode), peak RSS, and how many times an episode's clocks were
  derived.
The sizes are measured in turn (each floor and each rebuild at every size before the next), so
that a change in the machine's load falls on every size alike. Last, each view's events/s at
each size beside the smallest size's, each floor's likewise, and the peak RSS of every rebuild beside the bound
(RSS_BOUND_MB). The CPU column counts this process's CPU time and, on PostgreSQL, that of the
server's processes serving the run (read from /proc, the server being on this machine): on a
shared two-core machine the wall clock measures the load as much as the work, and timings vary
by a third between runs: compare the ratios and sizes measured in the same run. `--repeat N`
keeps the best of N runs of each floor and rebuild. `--keep DIR` keeps the stores (SQLite files
in DIR, PostgreSQL schemas `rebuild_N`) and reuses them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

RSS_BOUND_MB = 250  # the bound a rebuild's peak resident size stays under, at any log size
TODAY = date(2026, 11, 20)
SEED = 1
TICKS = os.sysconf("SC_CLK_TCK")  # /proc's CPU times are in these


# ---- child processes -----------------------------------------------------------------------


def cpu_clock(url: str) -> Callable[[], float]:
    """CPU seconds used so far by this process and, on PostgreSQL, by the server's processes
    serving this database (read from /proc where the server runs on this machine, as here):
    on a loaded machine the wall clock measures the load, CPU time the work."""
    if not url.startswith("postgres"):
        return time.process_time
    import psycopg

    def backends() -> dict[int, float]:
        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            pids = conn.execute(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        found = {}
        for (pid,) in pids:
            with suppress(OSError):  # (gone since, or a server on another machine)
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                found[pid] = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        return found

    first = backends()
    return lambda: (
        time.process_time() + sum(used - first.get(pid, 0.0) for pid, used in backends().items())
    )


def child_simulate(url: str, episodes: int) -> dict[str, Any]:
    from ehqa.clock import fixed
    from ehqa.services import Services
    from ehqa.simulate import simulate

    services = Services(url, clock=fixed(TODAY))
    started = time.perf_counter()
    report = simulate(
        services.app, episodes, SEED, TODAY - timedelta(days=730), TODAY, interleaved=True
    )
    seconds = time.perf_counter() - started
    log = services.app.recorder.max_notification_id() or 0
    services.close()
    return {"events": report.events, "notifications": log, "seconds": seconds}


def child_floor(url: str, view: str, replay: bool, decode: bool) -> dict[str, Any]:
    from ehqa.clock import fixed
    from ehqa.services import Services
    from projections.runner import PAGE, cycle_collection_paused

    services = Services(url, clock=fixed(TODAY))
    app, topics = services.app, services.projection(view).topics
    aggregates: dict[object, object] = {}
    count, start = 0, 1
    app.recorder.max_notification_id()  # (the recorder's connection opened before timing)
    clock = cpu_clock(url)
    started, cpu = time.perf_counter(), clock()
    with cycle_collection_paused():
        while page := app.recorder.select_notifications(start=start, limit=PAGE, topics=topics):
            for notification in page:
                if decode:
                    event: Any = app.mapper.to_domain_event(notification)
                    if replay:
                        key = event.originator_id
                        aggregates[key] = event.mutate(aggregates.get(key))
            count += len(page)
            start = page[-1].id + 1
    seconds, cpu = time.perf_counter() - started, clock() - cpu
    services.close()
    return {"events": count, "seconds": seconds, "cpu": cpu}


def child_floor_by_episode(url: str) -> dict[str, Any]:
    """The episodes' events read as the rebuild reads them, episode by episode (whole histories,
    in batches: projections.replay.read_batch), decoded and replayed, writing nothing; each
    batch's episodes let go after it, as the rebuild's are."""
    from eventsourcing.persistence import Notification

    from ehqa.clock import fixed
    from ehqa.services import Services
    from projections.histories import EventLog
    from projections.replay import REPLAY_EVENTS, cycle_collection_paused, read_batch

    services = Services(url, clock=fixed(TODAY))
    app, topics = services.app, services.projection("episodes").topics
    log = EventLog.of(app, services.views)
    assert log is not None
    target = log.last(topics)
    count, start = 0, 0
    clock = cpu_clock(url)
    started, cpu = time.perf_counter(), clock()
    with cycle_collection_paused():
        while start < target:
            reading = read_batch(log, topics, start, target, REPLAY_EVENTS)
            for opening in reading.taken:
                episode: Any = None
                for stored in reading.found[opening.originator_id]:
                    event: Any = app.mapper.to_domain_event(cast(Notification, stored))
                    episode = event.mutate(episode)
                    count += 1
            start = reading.end
    seconds, cpu = time.perf_counter() - started, clock() - cpu
    services.close()
    return {"events": count, "seconds": seconds, "cpu": cpu}


def child_rebuild(url: str, view: str) -> dict[str, Any]:
    from ehqa.clock import fixed
    from ehqa.services import Services

    services = Services(url, clock=fixed(TODAY))
    projection = services.projection(view)
    services.app.recorder.max_notification_id()  # (the recorder's connection opened before timing)
    clock = cpu_clock(url)
    started, cpu = time.perf_counter(), clock()
    applied = services.rebuild(view)
    seconds, cpu = time.perf_counter() - started, clock() - cpu
    derivations = getattr(projection, "derivations", None)
    services.close()
    return {"events": applied, "seconds": seconds, "cpu": cpu, "derivations": derivations}


def run_child(*args: str) -> dict[str, Any]:
    """Run this script as a child with `args`; its JSON answer, and its peak RSS in MB."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"child {args} failed ({process.returncode})")
    found: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    found["rss_mb"] = usage.ru_maxrss / 1024  # (kilobytes on Linux)
    return found


def best(repeat: int, *args: str) -> dict[str, Any]:
    runs = [run_child(*args) for _ in range(repeat)]
    return min(runs, key=lambda run: run["seconds"])


# ---- the parent ----------------------------------------------------------------------------

VIEWS = ["episodes", "timeline", "children", "outbox", "audits"]


def rates(found: dict[str, Any]) -> tuple[float, float]:
    """Events per second of wall-clock time, and per CPU-second (see `cpu_clock`)."""
    return found["events"] / found["seconds"], found["events"] / max(found["cpu"], 1e-9)


# The episodes' events read episode by episode, as the rebuild reads them (not in log order),
# decoded and replayed: how fast the rebuild's own reads go at each size
BY_EPISODE = "by episode + decode + replay"
FLOORS = [  # (view, kind, decode, replay); the timeline reads the episodes' events too
    ("episodes", "scan", "0", "0"), ("episodes", "scan + decode", "1", "0"),
    ("episodes", "scan + decode + replay", "1", "1"),
    ("children", "scan", "0", "0"), ("children", "scan + decode", "1", "0"),
]  # fmt: skip


def alternately(repeat: int, urls: dict[int, str], *args: str) -> dict[int, dict[str, Any]]:
    """The best of `repeat` runs of one child at each size, the sizes taken in turn, so that a
    change in the machine's load falls on every size alike (the best: the fewest seconds)."""
    runs: dict[int, list[dict[str, Any]]] = {size: [] for size in urls}
    for _ in range(repeat):
        for size, url in urls.items():
            runs[size].append(run_child(args[0], url, *args[1:]))
    return {size: min(found, key=lambda run: run["seconds"]) for size, found in runs.items()}


def measure(urls: dict[int, str], repeat: int) -> dict[int, dict[str, Any]]:
    """Every floor and every rebuild at every size (one after another at each size in turn);
    then each size's tables."""
    floors = {(view, kind): alternately(repeat, urls, "floor", view, replay, decode)
              for view, kind, decode, replay in FLOORS}  # fmt: skip
    floors["episodes", BY_EPISODE] = alternately(repeat, urls, "floor-by-episode")
    built = {view: alternately(repeat, urls, "rebuild", view) for view in VIEWS}
    found = {size: report(size, floors, built) for size in urls}
    for size in urls:
        found[size]["floors"] = {key: rates(floors[key][size])[0] for key in floors}
    return found


def report(size: int, floors: dict[tuple[str, str], Any], built: dict[str, Any]) -> dict[str, Any]:
    print(f"\n  {size:,} episodes")
    print(f"  {'floor (writing nothing)':<46} {'events/s':>9} {'per CPU-s':>10}  peak RSS")
    for (view, kind), by_size in floors.items():
        found = by_size[size]
        print(
            f"  {view + ' events: ' + kind:<46} {rates(found)[0]:>9,.0f} {rates(found)[1]:>10,.0f}"
            f"  {found['rss_mb']:>5.0f} MB"
            + ("  (every aggregate held)" if kind == "scan + decode + replay" else "")
        )
    print(
        f"  {'rebuild':<9} {'events':>9} {'seconds':>7} {'events/s':>9} {'per CPU-s':>10}"
        f"  {'of its floor (wall, CPU)':<36} {'peak RSS':>8}  clock derivations"
    )
    results: dict[str, Any] = {}
    total: dict[str, float] = {"events": 0, "seconds": 0.0, "cpu": 0.0}
    peak = 0.0
    for view in VIEWS:
        found = built[view][size]
        peak = max(peak, found["rss_mb"])
        if not found["events"]:  # (the simulator raises no alerts and runs no audits)
            print(f"  {view:<9} nothing in the log for this view ({found['rss_mb']:.0f} MB)")
            continue
        wall, cpu = rates(found)
        kind = "scan + decode + replay" if view == "episodes" else "scan + decode"
        floor = rates(floors["children" if view == "children" else "episodes", kind][size])
        derived = found["derivations"]
        print(
            f"  {view:<9} {found['events']:>9,} {found['seconds']:>7.1f} {wall:>9,.0f} {cpu:>10,.0f}"
            f"  {wall / floor[0]:.2f}, {cpu / floor[1]:.2f} of {kind:<24}"
            f" {found['rss_mb']:>5.0f} MB  "
            + (f"{derived:,} for {size:,} episodes" if derived is not None else "-")
        )
        results[view] = {"wall": wall, "cpu": cpu, "rss": found["rss_mb"]}
        for key in total:
            total[key] += found[key]
    wall, cpu = rates(total)
    print(
        f"  {'all views':<9} {int(total['events']):>9,} {total['seconds']:>7.1f} {wall:>9,.0f}"
        f" {cpu:>10,.0f}  {'':<36} {peak:>5.0f} MB (the largest)"
    )
    results["all"] = {"wall": wall, "cpu": cpu, "rss": peak}
    return results


def make(url: str, episodes: int, made: bool) -> None:
    if made:
        print(f"  {episodes:,} episodes: the kept store")
        return
    sim = run_child("simulate", url, str(episodes))
    print(
        f"  {episodes:,} episodes: simulated {sim['events']:,} episode events"
        f" ({sim['notifications']:,} notifications) in {sim['seconds']:.0f}s,"
        " in business-date order across episodes"
    )


def sqlite_store(keep: str | None, episodes: int) -> tuple[str, bool]:
    if keep:
        path = Path(keep) / f"rebuild-{episodes}.db"
        return str(path), path.exists()
    return str(Path(tempfile.mkdtemp()) / "rebuild.db"), False


def postgres_store(server: str, keep: str | None, episodes: int) -> tuple[str, bool, str]:
    """A schema for the size: with --keep, `rebuild_N`, reused when it holds events."""
    import psycopg

    schema = f"rebuild_{episodes}" if keep else f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        made = conn.execute(  # (the application's events table: ehqa_events)
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = 'ehqa_events'",
            (schema,),
        ).fetchone()
        if made:
            made = conn.execute(f"SELECT 1 FROM {schema}.ehqa_events LIMIT 1").fetchone()
        else:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    return f"{server}{'&' if '?' in server else '?'}schema={schema}", bool(made), schema


def summary(name: str, sizes: list[int], by_size: dict[int, dict[str, Any]]) -> None:
    first = sizes[0]
    print(
        f"\n{name}: each rebuild's events/s (wall clock; per CPU-second) beside {first:,} episodes'"
    )
    for view in [*VIEWS, "all"]:
        if view not in by_size[first]:
            continue
        cells = []
        for size in sizes:
            found, base = by_size[size][view], by_size[first][view]
            cells.append(
                f"{size:,}: {found['wall']:>7,.0f}/s ({found['wall'] / base['wall']:.2f});"
                f" {found['cpu']:>7,.0f} ({found['cpu'] / base['cpu']:.2f})"
            )
        label = "all views" if view == "all" else view
        print(f"  {label:<9} " + "   ".join(cells))
    print(f"{name}: each floor's events/s (wall clock) beside {first:,} episodes'")
    for key in by_size[first]["floors"]:
        cells = [
            f"{size:,}: {by_size[size]['floors'][key]:>9,.0f}/s"
            f" ({by_size[size]['floors'][key] / by_size[first]['floors'][key]:.2f})"
            for size in sizes
        ]
        print(f"  {key[0] + ' events: ' + key[1]:<46} " + "   ".join(cells))
    worst = max(
        result["rss"]
        for size in sizes
        for view, result in by_size[size].items()
        if view != "floors"
    )
    verdict = "under" if worst < RSS_BOUND_MB else "OVER"
    print(
        f"  largest peak RSS of a rebuild: {worst:.0f} MB ({verdict} the bound, {RSS_BOUND_MB} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", default="5000,50000", help="sizes, comma-separated")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--keep",
        help="keep (and reuse) the stores: SQLite files in this directory, PostgreSQL"
        " schemas rebuild_N",
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "simulate":
            answer = child_simulate(rest[0], int(rest[1]))
        elif kind == "floor":
            answer = child_floor(rest[0], rest[1], rest[2] == "1", rest[3] == "1")
        elif kind == "floor-by-episode":
            answer = child_floor_by_episode(rest[0])
        else:
            answer = child_rebuild(rest[0], rest[1])
        print(json.dumps(answer))
        return
    sizes = [int(size) for size in args.episodes.split(",")]
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    for store in args.stores.split(","):
        if store == "postgres" and not server:
            print("\n(set EHQA_BENCH_POSTGRES_URL to include PostgreSQL)")
            continue
        print(f"\n{store}: {', '.join(f'{s:,}' for s in sizes)} simulated episodes ({load()})")
        urls, dropped = {}, []
        try:
            for episodes in sizes:
                if store == "sqlite":
                    url, made = sqlite_store(args.keep, episodes)
                else:
                    url, made, schema = postgres_store(str(server), args.keep, episodes)
                    dropped += [] if args.keep else [schema]
                make(url, episodes, made)
                urls[episodes] = url
            summary(store, sizes, measure(urls, args.repeat))
        finally:
            if dropped:
                import psycopg

                with psycopg.connect(str(server), autocommit=True) as conn:
                    for schema in dropped:
                        conn.execute(f"DROP SCHEMA {schema} CASCADE")
        print(f"  ({load()} at the end)")


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
