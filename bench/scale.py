"""A large county over five years, on SQLite and PostgreSQL: every figure a council would ask for.

    .venv/bin/python bench/scale.py [--episodes 50000] [--growth N] [--stores sqlite,postgres]
                                    [--api-seconds 20] [--rate 100] [--port 8630] [--keep DIR]

For each store (PostgreSQL when EHQA_BENCH_POSTGRES_URL or EHQA_TEST_POSTGRES_URL names a
server), and at two sizes (`--growth`, default a fifth of `--episodes` from 10,000 episodes up,
then `--episodes`), a fresh store gets that many simulated episodes opened over five years,
saved in business-date order across episodes as a live log is written. Then, each figure beside
its baseline from the same run:
- the write rate (events saved per second) beside eventsourcing's recorder inserting the same
  stored events into an empty store (no domain, no encoding);
- a full rebuild of every view (seconds, events/s, peak RSS of its own child process, read
  with `os.wait4`) beside the raw notification-log scan;
- overdue today (the drift board's first page of 50 and its count) and one episode's timeline,
  p50/p99, beside a query's round trip and the timeline got by replaying the episode;
- the first sweep, a steady sweep and the next working day's, beside finding the due alerts by
  replaying every open aggregate (timed on a sample);
- the API under `ehqa serve` at `--rate` requests/s for `--api-seconds` (the mix of
  `bench/api.py`: 80% reads of open episodes and the drift board, 20% writes), p50/p99 beside
  `GET /health` in the same run;
and last, each figure at the larger size beside the smaller's. The stages run one after another
on the same store, each in a child process (`bench/scalegen.py`), except the API's server.
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
from pathlib import Path
from typing import Any

GENERATOR = str(Path(__file__).resolve().parent / "scalegen.py")


def stage(name: str, *args: str) -> dict[str, Any]:
    """Run one stage in a child process; its JSON answer, with its peak RSS in MB."""
    process = subprocess.Popen(
        [sys.executable, GENERATOR, name, *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"stage {name} {args} failed ({os.waitstatus_to_exitcode(status)})")
    found: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    found["rss_mb"] = usage.ru_maxrss / 1024  # (kilobytes on Linux)
    return found


def rate(found: dict[str, Any], seconds: str = "seconds") -> float:
    return float(found["events"]) / max(float(found[seconds]), 1e-9)


def ms(found: dict[str, Any]) -> str:
    return f"p50 {short(found['p50'])} ms, p99 {short(found['p99'])} ms"


def short(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(url: str, copy_url: str, episodes: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every stage on one new store; prints as it goes and returns the figures for growth."""
    sim = stage("simulate", url, str(episodes))
    raw = stage("rawwrite", url, copy_url)
    print(
        f"  write: {sim['episodes']:,} episodes, {sim['events']:,} episode events"
        f" ({sim['notifications']:,} stored events) in {sim['seconds']:.0f}s;"
        f" saving the log {sim['notifications'] / sim['save_seconds']:,.0f} events/s"
        f" | baseline, the recorder alone: {rate(raw):,.0f} events/s"
        f" ({sim['notifications'] / sim['save_seconds'] / rate(raw):.2f} of it)"
    )
    scan = stage("scan", url)
    built = stage("rebuild", url)
    print(
        f"  full rebuild (every view): {built['events']:,} events in {built['seconds']:.1f}s,"
        f" {rate(built):,.0f} events/s, peak RSS {built['rss_mb']:.0f} MB"
        f" | baseline, raw log scan: {rate(scan):,.0f} events/s, {scan['rss_mb']:.0f} MB"
    )
    views = built["views"]
    print(
        "    " + "; ".join(f"{n} {v['events']:,} in {v['seconds']:.1f}s" for n, v in views.items())
    )
    asked = stage("queries", url)
    print(
        f"  overdue today ({asked['overdue']:,} overdue clocks, {asked['open']:,} open episodes):"
        f" {ms(asked['board'])} | baseline, SELECT 1: {ms(asked['select1'])}"
    )
    print(
        f"  one timeline:  {ms(asked['timeline'])} | baseline, replaying its events:"
        f" {ms(asked['replayed'])}"
    )
    swept = stage("sweeps", url)
    print(
        f"  sweep over {swept['running']:,} running clocks: first {swept['first']:,} alerts in"
        f" {swept['first_seconds']:.1f}s; steady {swept['steady'] * 1000:.0f} ms;"
        f" next day ({swept['next_day']}) {swept['next']:,} alerts in"
        f" {swept['next_seconds'] * 1000:.0f} ms | baseline, replaying {swept['open']:,} open"
        f" episodes: {swept['replay_seconds']:.1f}s (timed on {swept['sampled']})"
    )
    served = stage("api", url, str(args.port), str(args.rate), str(args.api_seconds))
    print(
        f"  API at {args.rate:.0f} req/s asked, {served['achieved']:.0f} achieved:"
        f" {ms(served['all'])} ({served['count']:,} of {served['planned']:,} requests sent,"
        f" {served['errors']} unexpected"
        f"{': ' + '; '.join(served['examples']) if served['errors'] else ''})"
        f" | baseline, GET /health: {ms(served['health'])}"
    )
    for kind, found in sorted(served["kinds"].items()):
        print(f"    {kind:<10} {found['count']:>5}  {ms(found)}")
    return {
        "events": sim["notifications"], "write": sim["notifications"] / sim["save_seconds"],
        "raw_write": rate(raw), "rebuild_s": built["seconds"], "rebuild": rate(built),
        "scan": rate(scan), "rss": built["rss_mb"], "board": asked["board"]["p99"],
        "timeline": asked["timeline"]["p99"], "steady": swept["steady"] * 1000,
        "next": swept["next_seconds"] * 1000, "running": swept["running"],
        "api": served["all"]["p99"], "health": served["health"]["p99"],
    }  # fmt: skip


GROWTH = [
    ("stored events", "events", "{:,.0f}"), ("write events/s", "write", "{:,.0f}"),
    ("recorder alone, events/s", "raw_write", "{:,.0f}"), ("rebuild seconds", "rebuild_s", "{:,.1f}"),
    ("rebuild events/s", "rebuild", "{:,.0f}"), ("raw scan events/s", "scan", "{:,.0f}"),
    ("rebuild peak RSS MB", "rss", "{:,.0f}"), ("overdue today p99 ms", "board", "{:,.2f}"),
    ("timeline p99 ms", "timeline", "{:,.2f}"), ("running clocks", "running", "{:,.0f}"),
    ("steady sweep ms", "steady", "{:,.0f}"), ("next-day sweep ms", "next", "{:,.0f}"),
    ("API p99 ms", "api", "{:,.1f}"), ("/health p99 ms", "health", "{:,.1f}"),
]  # fmt: skip


def growth(store: str, sizes: list[int], found: dict[int, dict[str, Any]]) -> None:
    small, large = sizes[0], sizes[-1]
    print(f"\n{store}: growth from {small:,} to {large:,} episodes ({large / small:.1f}x)")
    for label, key, form in GROWTH:
        before, after = found[small][key], found[large][key]
        ratio = f"{after / before:.2f}x" if before else "-"
        print(f"  {label:<26} {form.format(before):>12} {form.format(after):>12}  {ratio}")


def stores(args: argparse.Namespace, server: str | None) -> list[str]:
    wanted = args.stores.split(",")
    if "postgres" in wanted and not server:
        print("(set EHQA_BENCH_POSTGRES_URL to include PostgreSQL)")
        wanted.remove("postgres")
    return wanted


def run(store: str, episodes: int, args: argparse.Namespace, server: str | None) -> dict[str, Any]:
    print(f"\n{store}: {episodes:,} episodes over five years ({load()} at the start)")
    if store == "sqlite":
        folder = Path(args.keep or tempfile.mkdtemp())
        urls = [str(folder / f"scale-{episodes}-{name}.db") for name in ("store", "copy")]
        for url in urls:
            for suffix in ("", "-wal", "-shm"):
                Path(url + suffix).unlink(missing_ok=True)
        return measure(urls[0], urls[1], episodes, args)
    import psycopg

    schemas = [f"scale_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(str(server), autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"CREATE SCHEMA {schema}")
    try:
        join = "&" if "?" in str(server) else "?"
        urls = [f"{server}{join}schema={schema}" for schema in schemas]
        return measure(urls[0], urls[1], episodes, args)
    finally:
        with psycopg.connect(str(server), autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50_000)
    parser.add_argument("--growth", type=int, help="the smaller size (0: none)")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--api-seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--port", type=int, default=8630, help="the API's port")
    parser.add_argument("--keep", help="keep the SQLite stores in this directory")
    args = parser.parse_args()
    smaller = args.growth if args.growth is not None else args.episodes // 5
    if args.growth is None and args.episodes < 10_000:
        smaller = 0
    sizes = [size for size in (smaller, args.episodes) if size]
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    started = time.perf_counter()
    print(f"bench/scale.py: sizes {', '.join(f'{s:,}' for s in sizes)}; {os.cpu_count()} cores")
    for store in stores(args, server):
        found = {size: run(store, size, args, server) for size in sizes}
        if len(sizes) > 1:
            growth(store, sizes, found)
    print(f"\nwhole run: {time.perf_counter() - started:.0f}s ({load()} at the end)")


if __name__ == "__main__":
    main()
