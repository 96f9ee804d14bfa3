"""Start-up: how long `ehqa --help` and query commands take, beside Python's own start-up.

    .venv/bin/python bench/startup.py [--runs 9] [--before DIR]

Each command runs in a fresh process, `--runs` times; the median wall-clock time and the median
CPU time (user + system, of the child process) are printed for:
- `python -c pass` and `python -c 'import eventsourcing'`: the floor any command pays;
- the floor of the stack itself: importing typer and pydantic and defining one model (every
  ehqa command is a typer command whose input a pydantic command model checks), and with it
  importing holidays (a query that counts working days, as `drift` and `episode` do, needs
  England's bank holidays): below this no ehqa command can go on the same machine;
- `ehqa --help`;
- `ehqa drift` and `ehqa episode DEMO-0003` on a small SQLite store (the demo's caseload, made
  first with `ehqa demo`; its views are current, as a store's are between commands).
The target is under 0.3 s for each ehqa command. On a shared machine read the CPU column: the
wall clock also counts the time the process waited for a core. With `--before PYTHON` (an
interpreter whose `ehqa` is other code, e.g. a venv whose .pth files name a copy of main and
this venv's site-packages), each ehqa command is also timed as `PYTHON -m ehqa`, in the same run.
Every command runs in a scratch directory, so that no checkout in the working directory shadows
the code under test. The code under test is compiled to bytecode first, as `pip install`
compiles a package it installs and as Python caches any module it imports: run where
PYTHONDONTWRITEBYTECODE is set (as on this project's machines) an editable checkout would
otherwise be compiled again by every command, which no installation pays; the first line printed
says how long that compilation took.
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
PACKAGES = ("ehqa", "aggregates", "projections", "schedulers")
COMPILE = (
    "import compileall, importlib.util, os\n"
    f"for name in {PACKAGES!r}:\n"
    "    origin = importlib.util.find_spec(name).origin\n"
    "    compileall.compile_dir(os.path.dirname(origin), quiet=1)\n"
)
# what every ehqa command imports and makes before its own code runs (see the docstring)
STACK = "import typer, pydantic\nclass Command(pydantic.BaseModel):\n    reference: str\n"


def compile_ahead(python: str, where: Path) -> float:
    """Compile the packages `python` imports as ehqa to bytecode (in their __pycache__, where
    Python itself keeps it); the seconds it took."""
    started = time.perf_counter()
    subprocess.run([python, "-c", COMPILE], check=True, cwd=where)
    return time.perf_counter() - started


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
        for python in [sys.executable, *([args.before] if args.before else [])]:
            seconds = compile_ahead(python, where)
            print(f"bytecode of {', '.join(PACKAGES)} compiled for {python} ({seconds:.2f} s)")
        subprocess.run([*cli, "--db", store, "demo"], check=True, capture_output=True)
        cases = [
            ("python -c pass", [sys.executable, "-c", "pass"], False),
            ("python -c 'import eventsourcing'", [sys.executable, "-c", "import eventsourcing"],
             False),
            ("floor: typer, pydantic, one model", [sys.executable, "-c", STACK], False),
            ("floor: the same and holidays", [sys.executable, "-c", STACK + "import holidays\n"],
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
