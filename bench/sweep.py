"""One sweep over a large number of open clocks on SQLite.

    .venv/bin/python bench/sweep.py [--episodes 50000]

Simulates episodes opened in the last seven months (most still open), brings the views up to
date, then times:
- the first sweep, which raises every alert that has fallen due (a service starting on an
  existing caseload), with its alerts/s;
- a steady sweep straight after (nothing new is due: the target is under 1 s at 100,000 open
  clocks);
- the next day's sweep (the rungs falling due that day);
beside the baseline of answering "which alerts are due" by replaying every aggregate.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from aggregates.alerts import ladder
from ehqa.clock import fixed
from ehqa.services import Services
from ehqa.simulate import references, simulate

TODAY = date(2026, 11, 20)


def timed(action):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=50_000)
    args = parser.parse_args()
    url = str(Path(tempfile.mkdtemp()) / "sweep.db")
    services = Services(url, clock=fixed(TODAY))
    report, seconds = timed(
        lambda: simulate(services.app, args.episodes, 5, TODAY - timedelta(days=210), TODAY)
    )
    print(f"simulated {args.episodes:,} episodes ({report.events:,} events) in {seconds:.0f}s")
    applied, seconds = timed(services.catch_up)
    print(f"views caught up: {applied:,} events in {seconds:.0f}s")
    running = services.views.query(
        "SELECT COUNT(*) FROM ehqa_clocks WHERE stopped_on IS NULL AND closed_on IS NULL"
    )[0][0]
    print(f"open clocks: {running:,}")
    raised, seconds = timed(lambda: services.sweep(TODAY))
    assert raised is not None
    print(
        f"first sweep: {len(raised):,} alerts raised in {seconds:.1f}s ({len(raised) / seconds:,.0f}/s)"
    )
    steady = []
    for _ in range(5):
        again, seconds = timed(lambda: services.sweep(TODAY))
        assert again == []
        steady.append(seconds)
    print(
        f"steady sweep (nothing new due) over {running:,} open clocks: median {sorted(steady)[2] * 1000:.0f} ms"
    )
    tomorrow = TODAY + timedelta(days=1)
    while not services.app.calendar.is_working_day(tomorrow):
        tomorrow += timedelta(days=1)
    raised, seconds = timed(lambda: services.sweep(tomorrow))
    print(
        f"next working day's sweep ({tomorrow}): {len(raised or []):,} alerts in {seconds * 1000:.0f} ms"
    )
    refs = list(references(5, args.episodes))
    sample = random.Random(1).sample(refs, min(1000, len(refs)))

    def replay() -> None:
        for ref in sample:
            episode = services.app.get_episode(ref)
            escalation = services.app.policy_of(episode).escalation
            for entry in services.app.clocks(episode, TODAY):
                if entry.status.value in ("pending", "overdue"):
                    ladder(entry.due_on, escalation, services.app.calendar).fell_due(TODAY)

    _, seconds = timed(replay)
    print(
        f"baseline, finding due alerts by replaying every aggregate: {seconds / len(sample) * len(refs):.1f}s"
        f" (timed on {len(sample):,} of {len(refs):,})"
    )
    services.close()


if __name__ == "__main__":
    main()
