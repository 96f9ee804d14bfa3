"""What a board read known at a moment costs, beside the same read from the live views and
beside rebuilding the episodes view from the same log, in one run.

    .venv/bin/python bench/known_at.py [--episodes 2000]

On a fresh SQLite file with `--episodes` simulated episodes: the drift board (its first 50 rows)
from the live views; the same as known at now (the log replayed into temporary views:
ehqa.known_at); one episode's deadlines as known at now; and `rebuild` of the episodes view, the
baseline a known-at board read is bounded by (both read and replay the whole log).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ehqa.clock import fixed
from ehqa.reads import When, reading
from ehqa.services import Services
from ehqa.simulate import references, simulate

TODAY = date(2026, 11, 20)


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    episodes = parser.parse_args().episodes
    with tempfile.TemporaryDirectory() as folder:
        services = Services(str(Path(folder) / "bench.db"), clock=fixed(TODAY))
        report = simulate(services.app, episodes, 7, TODAY - timedelta(days=400), TODAY)
        services.catch_up()
        now = datetime.now(UTC)
        live, known = When(TODAY, None, TODAY), When(TODAY, now, TODAY)
        one = next(references(7, 1))

        def board(when: When) -> int:
            with reading(services, when) as read:
                return len(read.drift(TODAY, limit=50))

        def deadlines() -> int:
            with reading(services, known, one) as read:
                return len(read.deadlines(one, TODAY))

        assert board(live) == board(known)
        print(f"{report.episodes} episodes, {report.events} events (SQLite)")
        print(f"drift board, live views:          {seconds(lambda: board(live)) * 1000:9.1f} ms")
        print(f"drift board, known at now:        {seconds(lambda: board(known)) * 1000:9.1f} ms")
        print(f"one episode's deadlines, known:   {seconds(deadlines) * 1000:9.1f} ms")
        print(f"rebuild of the episodes view:     "
              f"{seconds(lambda: services.rebuild('episodes')) * 1000:9.1f} ms (the baseline)")  # fmt: skip
        services.close()


if __name__ == "__main__":
    main()
