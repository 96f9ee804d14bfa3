"""APScheduler only wakes the sweep: once at start-up and then on an interval.

Deadlines live in events and the drift board, never in the scheduler: a missed wake-up is
harmless because the next sweep raises everything that fell due meanwhile. The job store is in
memory, a missed run is never dropped (`misfire_grace_time=None`), runs that piled up collapse
into one (`coalesce=True`), and the job never overlaps itself (`max_instances=1`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler

LONDON = ZoneInfo("Europe/London")


def run_every(job: Callable[[], None], seconds: float, stop: threading.Event) -> None:
    """Run `job` now and every `seconds` until `stop` is set."""
    scheduler = BackgroundScheduler(timezone=LONDON)
    scheduler.add_job(
        job,
        "interval",
        seconds=seconds,
        next_run_time=datetime.now(LONDON),
        misfire_grace_time=None,
        coalesce=True,
        max_instances=1,
        id="sweep",
    )
    scheduler.start()
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
