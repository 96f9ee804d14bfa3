"""The running server over loopback: a mixed read/write load, requests/s and p50/p99 latency.

    .venv/bin/python bench/api.py [--episodes 2000] [--rate 100] [--seconds 20] [--db URL]

Starts `ehqa serve` on an SQLite file (or --db), simulates a caseload, issues an admin token,
then sends requests at a fixed rate from a pool of keep-alive connections: 80% reads (an
episode, its timeline, its deadlines, the drift board's first page) and 20% writes (a child seen
today). Prints the achieved rate and p50/p99 per kind, beside GET /health (the framework's
floor) measured in the same run.
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
from pathlib import Path

TODAY = "2026-11-20"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    db = args.db or str(Path(tempfile.mkdtemp()) / "api.db")
    ehqa(db, "simulate", "--episodes", str(args.episodes), "--seed", "4", "--end", TODAY)
    token = ehqa(db, "tokens", "create", "--role", "admin", "--name", "bench")
    ehqa(db, "projections", "catch-up")
    refs = [f"SIM-4-{n:06d}" for n in range(args.episodes)]
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ehqa", "--db", db, "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "EHQA_TODAY": TODAY})  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        for _ in range(300):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        open_refs = []
        probe = http.client.HTTPConnection("127.0.0.1", port)
        for ref in refs[:400]:
            probe.request("GET", f"/episodes/{ref}", headers=headers)
            if json.loads(probe.getresponse().read())["state"] != "closed":
                open_refs.append(ref)
        rng = random.Random(1)
        kinds = (
            ["episode"] * 30
            + ["timeline"] * 25
            + ["deadlines"] * 15
            + ["drift"] * 10
            + ["write"] * 20
        )

        def request(kind: str) -> tuple[str, str, bytes | None]:
            ref = rng.choice(open_refs)
            return {
                "episode": ("GET", f"/episodes/{ref}", None),
                "timeline": ("GET", f"/episodes/{ref}/timeline", None),
                "deadlines": ("GET", f"/episodes/{ref}/deadlines", None),
                "drift": ("GET", "/drift?limit=50", None),
                "write": ("POST", f"/episodes/{ref}/see_child", json.dumps({"on": TODAY}).encode()),
                "health": ("GET", "/health", None),
            }[kind]

        timings: dict[str, list[float]] = {}
        errors: list[str] = []
        lock = threading.Lock()
        total = int(args.rate * args.seconds)
        schedule = [
            (i / args.rate, rng.choice(kinds) if i % 10 else "health") for i in range(total)
        ]
        started = time.perf_counter()
        cursor = iter(schedule)

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            while True:
                with lock:
                    item = next(cursor, None)
                if item is None:
                    return
                at, kind = item
                delay = started + at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                method, path, body = request(kind)
                sent = time.perf_counter()
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                elapsed = (time.perf_counter() - sent) * 1000
                with lock:
                    timings.setdefault(kind, []).append(elapsed)
                    if response.status >= 500 or (response.status >= 400 and kind != "write"):
                        errors.append(f"{kind} {path}: {response.status}")

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        everything = [t for kind, values in timings.items() if kind != "health" for t in values]
        print(
            f"{total} requests in {wall:.1f}s: {total / wall:.0f} requests/s (target rate {args.rate:.0f}/s),"
            f" {args.episodes:,} simulated episodes on {'SQLite' if not db.startswith('postgres') else 'PostgreSQL'}"
        )
        print(f"{'kind':<10} {'count':>6} {'p50 ms':>8} {'p99 ms':>8}")
        for kind, values in sorted(timings.items()):
            print(
                f"{kind:<10} {len(values):>6} {statistics.median(values):>8.1f} {percentile(values, 0.99):>8.1f}"
            )
        print(
            f"{'all':<10} {len(everything):>6} {statistics.median(everything):>8.1f}"
            f" {percentile(everything, 0.99):>8.1f}"
            "   (health is the framework's floor, measured in the same run)"
        )
        if errors:
            print(f"{len(errors)} unexpected responses, e.g. {errors[:3]}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
