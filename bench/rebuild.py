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
  replaying them into their aggregates, every aggregate held in memory (scan + decode + replay);
- the rebuild of each view: seconds, events/s, its ratio to its floor (episodes: scan + decode +
  replay; the others: scan + decode), peak RSS, and how many times an episode's clocks were
  derived.
Last, each view's events/s at each size beside the smallest size's, and the peak RSS of every
rebuild beside the bound (RSS_BOUND_MB). Timings on a shared two-core machine vary by a third
between runs: compare the ratios and sizes measured in the same run. `--repeat N` keeps the best
of N runs of each floor and rebuild. `--keep DIR` keeps the SQLite stores there and reuses them.
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
from typing import Any

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
    """Events per second of wall-clock time, and per second of the process's CPU time."""
    return found["events"] / found["seconds"], found["events"] / max(found["cpu"], 1e-9)


def measure(url: str, episodes: int, repeat: int, made: bool) -> dict[str, Any]:
    if not made:
        sim = run_child("simulate", url, str(episodes))
        print(
            f"  simulated {sim['events']:,} episode events ({sim['notifications']:,} notifications)"
            f" in {sim['seconds']:.0f}s, in business-date order across episodes"
        )
    floors: dict[str, dict[str, tuple[float, float]]] = {}
    print(f"  {'floor (writing nothing)':<38} {'events/s':>9} {'per CPU-s':>10}  peak RSS")
    for view in ("episodes", "children"):  # (timeline reads the episodes' events too)
        kinds = [("scan", "0", "0"), ("scan + decode", "1", "0")]
        if view == "episodes":
            kinds.append(("scan + decode + replay", "1", "1"))
        floors[view] = {}
        for kind, decode, replay in kinds:
            found = best(repeat, "floor", url, view, replay, decode)
            floors[view][kind] = rates(found)
            print(
                f"  {view + ' events: ' + kind:<38} {floors[view][kind][0]:>9,.0f}"
                f" {floors[view][kind][1]:>10,.0f}  {found['rss_mb']:>5.0f} MB"
                + ("  (every aggregate held)" if replay == "1" else "")
            )
    floors["timeline"] = floors["episodes"]
    print(
        f"  {'rebuild':<9} {'events':>9} {'seconds':>7} {'events/s':>9} {'per CPU-s':>10}"
        f"  {'of its floor (wall, CPU)':<36} {'peak RSS':>8}  clock derivations"
    )
    results: dict[str, Any] = {}
    total: dict[str, float] = {"events": 0, "seconds": 0.0, "cpu": 0.0}
    peak = 0.0
    for view in VIEWS:
        found = best(repeat, "rebuild", url, view)
        peak = max(peak, found["rss_mb"])
        if not found["events"]:  # (the simulator raises no alerts and runs no audits)
            print(f"  {view:<9} nothing in the log for this view ({found['rss_mb']:.0f} MB)")
            continue
        wall, cpu = rates(found)
        kind = "scan + decode + replay" if view == "episodes" else "scan + decode"
        floor = floors[view][kind]
        derived = (
            f"{found['derivations']:,} for {episodes:,} episodes"
            if found["derivations"] is not None
            else "-"
        )
        print(
            f"  {view:<9} {found['events']:>9,} {found['seconds']:>7.1f} {wall:>9,.0f} {cpu:>10,.0f}"
            f"  {wall / floor[0]:.2f}, {cpu / floor[1]:.2f} of {kind:<24}"
            f" {found['rss_mb']:>5.0f} MB  {derived}"
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


def sqlite_store(keep: str | None, episodes: int) -> tuple[str, bool]:
    if keep:
        path = Path(keep) / f"rebuild-{episodes}.db"
        return str(path), path.exists()
    return str(Path(tempfile.mkdtemp()) / "rebuild.db"), False


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
    worst = max(result["rss"] for size in sizes for result in by_size[size].values())
    verdict = "under" if worst < RSS_BOUND_MB else "OVER"
    print(
        f"  largest peak RSS of a rebuild: {worst:.0f} MB ({verdict} the bound, {RSS_BOUND_MB} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", default="5000,50000", help="sizes, comma-separated")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", help="keep (and reuse) the SQLite stores in this directory")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "simulate":
            answer = child_simulate(rest[0], int(rest[1]))
        elif kind == "floor":
            answer = child_floor(rest[0], rest[1], rest[2] == "1", rest[3] == "1")
        else:
            answer = child_rebuild(rest[0], rest[1])
        print(json.dumps(answer))
        return
    sizes = [int(size) for size in args.episodes.split(",")]
    stores = args.stores.split(",")
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    for store in stores:
        if store == "postgres" and not server:
            print("\n(set EHQA_BENCH_POSTGRES_URL to include PostgreSQL)")
            continue
        by_size = {}
        for episodes in sizes:
            print(f"\n{store}: {episodes:,} simulated episodes")
            if store == "sqlite":
                url, made = sqlite_store(args.keep, episodes)
                by_size[episodes] = measure(url, episodes, args.repeat, made)
                continue
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(str(server), autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            try:
                url = f"{server}{'&' if '?' in str(server) else '?'}schema={schema}"
                by_size[episodes] = measure(url, episodes, args.repeat, False)
            finally:
                with psycopg.connect(str(server), autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
        summary(store, sizes, by_size)


if __name__ == "__main__":
    main()
