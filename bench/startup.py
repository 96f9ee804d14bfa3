"""Start-up: how long `ehqa --help` and query commands take, beside Python's own start-up.

    .venv/bin/python bench/startup.py [--runs 9] [--before DIR]

Each command runs in a fresh process, `--runs` times; the median wall-clock time and the median
CPU time (user + system, of the child process) are printed for:
- `python -c pass` and `python -c 'import eventsourcing'`: the floor any command pays;
- `ehqa --help`;
- `ehqa drift` and `ehqa episode DEMO-0003` on a small SQLite store (the demo's caseload, made
  first with `ehqa demo`; its views are current, as a store's are between commands).
The target is under 0.3 s for each ehqa command. On a shared machine read the CPU column: the
wall clock also counts the time the process waited for a core. With `--before PYTHON` (an
interpreter whose `ehqa` is other code, e.g. a venv whose .pth files name a copy of main and
this venv's site-packages), each ehqa command is also timed as `PYTHON -m ehqa`, in the same run.
Every command runs in a scratch directory, so that no checkout in the working directory shadows
the code under test.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.3  # seconds


def timed(command: list[str], runs: int, where: Path) -> tuple[float, float]:
    """Median wall-clock and CPU seconds of `command` run `runs` times, each a fresh process."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=where
        )
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--before", help="Also time the ehqa commands with this interpreter.")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp())
    store = str(where / "small.db")
    try:
        cli = [sys.executable, "-m", "ehqa"]
        subprocess.run([*cli, "--db", store, "demo"], check=True, capture_output=True)
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], False),
            ("python -c 'import eventsourcing'", [sys.executable, "-c", "import eventsourcing"],
             False),
            ("ehqa --help", [*cli, "--help"], True),
            ("ehqa drift (small SQLite store)", [*cli, "--db", store, "drift"], True),
            ("ehqa episode DEMO-0003 (same store)", [*cli, "--db", store, "episode", "DEMO-0003"],
             True),
        ]  # fmt: skip
        print(f"median of {args.runs} runs, each in a fresh process; target < {TARGET} s")
        print(f"{'command':<38} {'wall (s)':>9} {'CPU (s)':>9}  CPU under {TARGET} s")
        for name, command, judged in cases:
            wall, cpu = timed(command, args.runs, where)
            verdict = ("yes" if cpu < TARGET else "no") if judged else "(baseline)"
            print(f"{name:<38} {wall:>9.3f} {cpu:>9.3f}  {verdict}")
            if judged and args.before:
                other = [args.before, "-m", "ehqa", *command[3:]]
                wall, cpu = timed(other, args.runs, where)
                print(f"{'  the same, --before':<38} {wall:>9.3f} {cpu:>9.3f}")
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
