"""Beside a worker of the API: the view follower and the alert sweep, as two threads."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from ehqa.services import Services
from projections.runner import follow
from schedulers.scheduler import run_every

log = logging.getLogger("ehqa.api")


def start(database_url: str, stop: threading.Event, interval: float) -> list[threading.Thread]:
    """Keep the views caught up, and wake the sweep (one sweeper per store). Each thread has
    its own Services: a database connection is never shared between threads."""
    follower, sweeper = Services(database_url), Services(database_url)

    def follow_views() -> None:
        try:
            follow(follower.app, follower.views, follower.projections, stop, poll_interval=1.0)
        finally:
            follower.close()

    def sweep() -> None:
        try:
            raised = sweeper.sweep()
            if raised:
                log.info(json.dumps({"sweep": len(raised)}))
        except Exception:
            log.exception("sweep failed")

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
    database_url: str, background: bool, interval: float
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: the threads (if `background`) run while it serves."""

    @asynccontextmanager
    async def running(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        workers = start(database_url, stop, interval) if background else []
        yield
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    return running
