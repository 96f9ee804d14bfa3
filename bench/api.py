"""The running server over loopback: a mixed read/write load, requests/s and p50/p99 latency.

    .venv/bin/python bench/api.py [--episodes 2000] [--rate 100] [--seconds 20]
                                  [--stores sqlite,postgres] [--db URL] [--port N]
                                  [--server-log FILE]

For each store (a fresh SQLite file; a fresh schema on PostgreSQL when EHQA_BENCH_POSTGRES_URL or
EHQA_TEST_POSTGRES_URL is set), simulates `--episodes` episodes, issues an admin token, starts
`ehqa serve` (view follower and sweep beside it, as a council runs it), then sends requests at a
fixed rate from a pool of keep-alive connections: 80% reads (an episode, its timeline, its
deadlines, the drift board's first page) and 20% writes (a child seen today), with every tenth
request GET /health (the framework's floor, measured in the same run). Prints the rate asked
and the rate answered, p50/p99 of the mix and of /health, and every failed or unanswered
request. `--db` runs against an existing store instead (simulated only if it holds no episode).
`--port` serves on that port (else a free one); `--server-log` keeps the server's log (one line
per request, with the time it spent inside the app) in that file, the store's name appended.
A latency is measured from the moment the request is sent; a request sent more than 10 ms after
its turn (the client fell behind) is counted as late.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ehqa.services import Services

TODAY = "2026-11-20"
MIX = ["episode"] * 30 + ["timeline"] * 25 + ["deadlines"] * 15 + ["drift"] * 10 + ["write"] * 20
WORKERS = 16


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ehqa(db: str, *args: str) -> str:
    env = {**os.environ, "EHQA_TODAY": TODAY}
    return subprocess.run([sys.executable, "-m", "ehqa", "--db", db, *args], check=True,
                          capture_output=True, text=True, env=env).stdout.strip()  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def open_references(db: str) -> list[str]:
    services = Services(db)
    try:
        services.catch_up()
        rows = services.views.query("SELECT reference FROM ehqa_episodes WHERE closed_on IS NULL")
        return sorted(r[0] for r in rows)
    finally:
        services.close()


def prepare(db: str, episodes: int) -> tuple[str, list[str], str]:
    """The store simulated (unless it already holds episodes), an admin token, the open episodes,
    and what the store holds, for the report."""
    simulated = not open_references(db)
    if simulated:
        ehqa(db, "simulate", "--episodes", str(episodes), "--seed", "4", "--end", TODAY)
    token = ehqa(db, "tokens", "create", "--role", "admin", "--name", "bench")
    refs = open_references(db)
    if not refs:
        raise SystemExit(f"{db}: no open episode to read")
    held = (
        f"{episodes:,} simulated episodes"
        if simulated
        else f"the store given, {len(refs):,} open episodes"
    )
    return token, refs, held


@dataclass
class Results:
    timings: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    late: int = 0
    answered: int = 0


def serve(db: str, port: int | None, log: Path | None) -> tuple[subprocess.Popen[bytes], int]:
    port = port or free_port()
    out = log.open("wb") if log else subprocess.DEVNULL
    server = subprocess.Popen([sys.executable, "-m", "ehqa", "--db", db, "serve", "--port", str(port)],
                              stdout=out, stderr=out, env={**os.environ, "EHQA_TODAY": TODAY})  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/health")
            if probe.getresponse().status == 200:
                return server, port
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server on {db} did not start")
        time.sleep(0.1)


def load(
    port: int, token: str, refs: list[str], rate: float, seconds: float
) -> tuple[Results, float]:
    """Send rate x seconds requests on schedule; every one is answered, failed, or reported."""
    rng = random.Random(1)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    total = int(rate * seconds)
    schedule = [(i / rate, rng.choice(MIX) if i % 10 else "health", rng.choice(refs))
                for i in range(total)]  # fmt: skip
    paths = {
        "episode": lambda ref: ("GET", f"/episodes/{ref}", None),
        "timeline": lambda ref: ("GET", f"/episodes/{ref}/timeline", None),
        "deadlines": lambda ref: ("GET", f"/episodes/{ref}/deadlines", None),
        "drift": lambda ref: ("GET", "/drift?limit=50", None),
        "write": lambda ref: ("POST", f"/episodes/{ref}/see_child", json.dumps({"on": TODAY}).encode()),
        "health": lambda ref: ("GET", "/health", None),
    }  # fmt: skip
    results, lock, cursor = Results(), threading.Lock(), iter(schedule)
    started = time.perf_counter()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                item = next(cursor, None)
            if item is None:
                return
            at, kind, ref = item
            delay = started + at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            method, path, body = paths[kind](ref)
            sent = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    results.failures.append(f"{kind} {path}: {type(error).__name__}: {error}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                continue
            elapsed = (time.perf_counter() - sent) * 1000
            with lock:
                results.answered += 1
                results.late += delay < -0.010
                results.timings.setdefault(kind, []).append(elapsed)
                if response.status >= 500 or (response.status >= 400 and kind != "write"):
                    results.failures.append(f"{kind} {path}: {response.status}")

    died: list[str] = []

    def guarded() -> None:
        try:
            worker()
        except BaseException as error:  # (reported, never silent)
            died.append(f"{type(error).__name__}: {error}")
            raise

    threads = [threading.Thread(target=guarded) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if died:
        raise SystemExit(f"{len(died)} load thread(s) died: {died[:3]}")
    return results, time.perf_counter() - started


def report(name: str, held: str, rate: float, settle: float, results: Results, wall: float) -> None:
    mix = [t for kind, values in results.timings.items() if kind != "health" for t in values]
    health = results.timings.get("health", [])
    print(
        f"{name}: {held}, load from {settle:.0f} s after the server"
        " started (its first sweep and the follower running beside it)"
    )
    print(f"  asked {rate:.0f} requests/s, answered"
          f" {results.answered / wall:.1f}/s ({results.answered} in {wall:.1f} s; {results.late}"
          f" sent more than 10 ms late; {len(results.failures)} failed)")  # fmt: skip
    print(f"  {'kind':<10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, values in sorted(results.timings.items()):
        print(f"  {kind:<10} {len(values):>6} {statistics.median(values):>8.1f}"
              f" {percentile(values, 0.99):>8.1f}")  # fmt: skip
    if mix and health:
        print(f"  {'mix':<10} {len(mix):>6} {statistics.median(mix):>8.1f} {percentile(mix, 0.99):>8.1f}"
              f"   beside /health (the floor, same run): p50 {statistics.median(health):.1f},"
              f" p99 {percentile(health, 0.99):.1f}")  # fmt: skip
    for failure in results.failures[:5]:
        print(f"  failed: {failure}")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def health_cpu_ms(pid: int, port: int, count: int = 300) -> float:
    """The server's CPU milliseconds per GET /health, sent one after another (the floor)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    before = cpu_seconds(pid)
    for _ in range(count):
        conn.request("GET", "/health")
        conn.getresponse().read()
    return (cpu_seconds(pid) - before) * 1000 / count


def run_store(name: str, db: str, args: argparse.Namespace) -> None:
    token, refs, held = prepare(db, args.episodes)
    log = Path(f"{args.server_log}.{name}") if args.server_log else None
    server, port = serve(db, args.port, log)
    try:
        time.sleep(args.settle)  # (the first sweep and the follower's first round)
        floor = health_cpu_ms(server.pid, port)
        before, load_average = cpu_seconds(server.pid), os.getloadavg()[0]
        results, wall = load(port, token, refs, args.rate, args.seconds)
        used = cpu_seconds(server.pid) - before
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    report(name, held, args.rate, args.settle, results, wall)
    print(f"  server CPU: {used * 1000 / max(1, results.answered):.1f} ms a request of the load"
          f" ({used / wall:.2f} of a core), beside {floor:.1f} ms a GET /health sent alone;"
          f" load average {load_average:.1f} when the load began, {os.getloadavg()[0]:.1f} at its end"
          f" ({os.cpu_count()} cores)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--settle", type=float, default=15, help="Seconds between start and load.")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--db", default=None, help="An existing store instead of fresh ones.")
    parser.add_argument(
        "--port", type=int, default=None, help="The server's port (else a free one)."
    )
    parser.add_argument("--server-log", default=None, help="Keep the server's log in FILE.<store>.")
    args = parser.parse_args()
    if args.db:
        run_store("postgres" if args.db.startswith("postgres") else "sqlite", args.db, args)
        return
    stores = args.stores.split(",")
    if "sqlite" in stores:
        run_store("sqlite", str(Path(tempfile.mkdtemp()) / "api.db"), args)
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    if "postgres" in stores and server:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        try:
            run_store("postgres", f"{server}?schema={schema}", args)
        finally:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")
    elif "postgres" in stores:
        print(
            "(set EHQA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/DB for PostgreSQL)"
        )


if __name__ == "__main__":
    main()
