"""Reading stored events: ehqa's transcoder (orjson) beside eventsourcing's own, in one run.

    .venv/bin/python bench/codec.py [--episodes 300] [--repeat 5]

Simulates a caseload in a fresh SQLite file, reads its stored events once into memory, then
times, per event (the best of `--repeat` rounds, in CPU time, the two transcoders taking turns
three times):
- decode: the stored JSON into the event's fields (`Transcoder.decode`);
- decode into the event: the whole `Mapper.to_domain_event` (topic, fields, the event object),
  the part of a rebuild's "scan + decode" floor that is not the scan.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper

from ehqa.application import EhqaApplication
from ehqa.codec import OrjsonTranscoder
from ehqa.simulate import simulate
from ehqa.store import store_env


def best(work: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp())
    try:
        app = EhqaApplication(store_env(str(where / "codec.db")))
        today = date.today()
        simulate(app, args.episodes, 1, today - timedelta(days=730), today)
        stored = app.recorder.select_notifications(start=1, limit=10_000_000)
        library = JSONTranscoder()
        app.register_transcodings(library)
        ours = app.mapper.transcoder
        assert isinstance(ours, OrjsonTranscoder)
        mappers: dict[str, Mapper[Any]] = {
            "eventsourcing JSONTranscoder": app.factory.mapper(library, type(app.mapper)),
            "ehqa OrjsonTranscoder": app.mapper,
        }
        found: dict[str, tuple[float, float]] = {}
        for _ in range(3):  # (taking turns: the best of each)
            for name, mapper in mappers.items():
                codec = mapper.transcoder
                decode = best(lambda c=codec: [c.decode(s.state) for s in stored], args.repeat)
                event = best(lambda m=mapper: [m.to_domain_event(s) for s in stored], args.repeat)
                old = found.get(name, (decode, event))
                found[name] = (min(old[0], decode), min(old[1], event))
        print(f"{len(stored):,} stored events of {args.episodes} simulated episodes;"
              f" best of {args.repeat} rounds, per event")  # fmt: skip
        print(f"{'transcoder':<30} {'decode (us)':>12} {'into the event (us)':>20}")
        base = found["eventsourcing JSONTranscoder"]
        for name, (decode, event) in found.items():
            per = 1e6 / len(stored)
            print(
                f"{name:<30} {decode * per:>12.2f} {event * per:>20.2f}"
                f"   ({base[0] / decode:.2f}x, {base[1] / event:.2f}x)"
            )
        app.close()
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
