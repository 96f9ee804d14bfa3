"""Commands per second of `ehqa apply`, beside the raw eventsourcing figure on the same store.

    .venv/bin/python bench/apply.py [--commands 3000]

Runs on a fresh SQLite file, and on PostgreSQL when EHQA_BENCH_POSTGRES_URL (or
EHQA_TEST_POSTGRES_URL) names a server (a fresh schema is made and dropped). For each store it
prints:
- ehqa apply: the real command line applying a JSON Lines file (process start-up included);
- raw eventsourcing: get an aggregate, trigger one event, save, in a loop (the floor any
  command pays on that store), measured in the same run.
Each also per second of its process's CPU time (user + system; on PostgreSQL the server's work
is not in it): on a shared machine the wall clock also counts waiting for a core or the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ehqa.store import store_env


class Counter(Aggregate):
    @event("Created")
    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self, on: str) -> None:
        self.count += 1


def history(commands: int) -> list[str]:
    """Episodes of ten commands each: open, consent, visits, assessment, FAM, plan, reviews."""
    lines: list[str] = []
    start = date(2024, 1, 2)
    steps = [
        ("open", 0),
        ("record_consent", 1),
        ("see_child", 10),
        ("finalise_assessment", 20),
        ("decide_fam", 21),
        ("hold_fam", 35),
        ("circulate_plan", 40),
        ("hold_review", 65),
        ("see_child", 66),
        ("hold_review", 150),
    ]
    n = 0
    while len(lines) < commands:
        n += 1
        ref = f"BENCH-{n:06d}"
        for cmd, offset in steps:
            line: dict[str, object] = {
                "cmd": cmd,
                "episode": ref,
                "on": (start + timedelta(days=offset)).isoformat(),
            }
            if cmd == "open":
                line |= {
                    "child": f"C-{n:06d}",
                    "lead": {"name": f"LP {n % 40}", "agency": "school"},
                }
            if cmd == "record_consent":
                line["agencies"] = ["school", "health_visiting"]
            lines.append(json.dumps(line))
    return lines[:commands]


def bench_apply(url: str, lines: list[str]) -> tuple[float, float]:
    """Commands per second of wall clock and of the process's CPU time."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as file:
        file.write("\n".join(lines) + "\n")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ehqa", "--db", url, "apply", file.name],
        check=True,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    os.unlink(file.name)
    return len(lines) / elapsed, len(lines) / cpu


def bench_raw(url: str, commands: int) -> tuple[float, float]:
    """The same shape as the history: a new aggregate every ten commands, then get-event-save."""
    app = Application[UUID](env=store_env(url))
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(commands):
        if n % 10 == 0:
            current = Counter()
            app.save(current)
            continue
        aggregate: Counter = app.repository.get(current.id)
        aggregate.increment(on=str(n))
        app.save(aggregate)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    app.close()
    return commands / elapsed, commands / cpu


def stores() -> list[tuple[str, str, str | None]]:
    """(name, url, schema to drop afterwards)."""
    found: list[tuple[str, str, str | None]] = [
        ("sqlite", str(Path(tempfile.mkdtemp()) / "bench.db"), None)
    ]
    server = os.environ.get("EHQA_BENCH_POSTGRES_URL") or os.environ.get("EHQA_TEST_POSTGRES_URL")
    if server:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        found.append(("postgres", f"{server}?schema={schema}", schema))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=3000)
    args = parser.parse_args()
    lines = history(args.commands)
    print(f"{args.commands} commands ({args.commands // 10} episodes of 10 commands)")
    print(
        f"{'store':<10} {'ehqa apply (cmd/s)':>20} {'raw eventsourcing (cmd/s)':>27} {'ratio':>7}"
        f"   per CPU-second: {'apply':>7} {'raw':>7} {'ratio':>6}"
    )
    targets = stores()
    for name, url, schema in targets:
        try:
            raw, raw_cpu = bench_raw(url, args.commands)
            applied, applied_cpu = bench_apply(url, lines)
            print(
                f"{name:<10} {applied:>20.0f} {raw:>27.0f} {applied / raw:>7.2f}"
                f"                   {applied_cpu:>7.0f} {raw_cpu:>7.0f} {applied_cpu / raw_cpu:>6.2f}"
            )
        finally:
            if schema:
                server = url.split("?")[0]
                with psycopg.connect(server, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    if len(targets) == 1:
        print(
            "(set EHQA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test for PostgreSQL)"
        )


if __name__ == "__main__":
    main()
