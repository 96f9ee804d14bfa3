"""Beside a worker of the API: the view follower and the alert sweep, as two threads.

Neither ever holds a request up. Each has a Services of its own (a database connection is never
shared between threads), opened as the app's own (`Services.sibling`: the same policies,
default policy and clock), and works in short transactions: the follower and the sweep's
catch-up in batches of at most CATCH_UP_BATCH events, the sweep's alerts 100 episodes at a time.
A request neither waits for them nor takes their locks: a read catches nothing up and writes
nothing (its access-log entry is group-committed), and on SQLite reads never wait for a writer.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from ehqa.services import Services
from projections.runner import CATCH_UP_BATCH, follow
from schedulers.scheduler import run_every

log = logging.getLogger("ehqa.api")
# Seconds the follower lets pass after an event is recorded (PostgreSQL) before it catches up:
# a write catches its own episode's views up itself, at once (Api.episode_caught_up).
FOLLOW_SETTLE = 0.2


def start(services: Services, stop: threading.Event, interval: float,
          digest: tuple[Path | None, str | None] = (None, None)) -> list[threading.Thread]:  # fmt: skip
    """Keep the views caught up, and wake the sweep (one sweeper per store); after each sweep,
    the daily digest of the chain (EHQA_DIGEST_FILE, posted to EHQA_DIGEST_WEBHOOK), as
    `ehqa scheduler run` writes it."""
    follower, sweeper = services.sibling(), services.sibling()
    sweeper.catch_up_batch = CATCH_UP_BATCH

    def follow_views() -> None:
        try:
            follow(follower.app, follower.views, follower.projections, stop, poll_interval=1.0,
                   batch_size=CATCH_UP_BATCH, settle=FOLLOW_SETTLE)  # fmt: skip
        except Exception:
            log.exception("the view follower stopped")
            raise
        finally:
            follower.close()

    def sweep() -> None:
        try:
            raised = sweeper.sweep()
            if raised:
                log.info(json.dumps({"sweep": len(raised)}))
        except Exception:
            log.exception("sweep failed")
        digest_file, digest_webhook = digest
        if digest_file is not None:
            from ehqa.trail import digest_round

            digest_round(sweeper, digest_file, log, digest_webhook)  # (logs its own failure)

    def sweep_every() -> None:
        try:
            run_every(sweep, interval, stop)
        finally:
            sweeper.close()

    threads = [
        threading.Thread(target=follow_views, daemon=True, name="ehqa-views"),
        threading.Thread(target=sweep_every, daemon=True, name="ehqa-sweep"),
    ]
    for thread in threads:
        thread.start()
    return threads


def lifespan(
    services: Services,
    background: bool,
    interval: float,
    digest: tuple[Path | None, str | None] = (None, None),
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the threads (if `background`) run while it serves; at shutdown the
    reads' access-log entries still waiting are committed."""

    @asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        workers = start(services, stop, interval, digest) if background else []
        yield
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        app.state.api.close()

    return running
