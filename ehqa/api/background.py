"""Beside a worker of the API: the view follower, as a thread, and the alert sweep, as a process
of its own.

Neither holds a read up, and a write waits at most for the sweep's batch under way (below).
The follower has a Services of its own (a database connection is
never shared between threads), opened as the app's own (`Services.sibling`: the same policies,
default policy and clock), and works in batches of at most CATCH_UP_BATCH events.

The sweep runs in a child process (`sweeping`): a first sweep on a large store raises tens of
thousands of alerts and takes a core for a minute or more, and as a thread of the server it
would hold the interpreter's lock between the requests' every step. The child opens the same
store with the same options and writes in short turns: its alerts 2 episodes at a time
(schedulers.sweep.BATCH), each batch saved and taken into the views while it holds the store's
catch-up lock (schedulers.lock), which a request's write waits for instead of catching the
sweep's alerts up itself beside it; after each turn it lets the lock be for as long again
(`paced`), so a write mostly finds it free. It runs at the server's own priority: niced, it
was descheduled while holding the lock whenever the server and the database were busy, and the
writes waiting for it waited the longer. It stops after the batch under way when the server
stops, or when it finds the server's process gone; if it ends on its own, the server logs it and
starts another. A store only this process can open (`memory:`) keeps the sweep on a thread.

A read neither waits for them nor takes their locks: it catches nothing up and writes nothing
(its access-log entry is group-committed), and on SQLite reads never wait for a writer.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from ehqa.api.logs import JsonLines
from ehqa.services import Services
from projections.runner import CATCH_UP_BATCH, follow
from schedulers.scheduler import run_every

log = logging.getLogger("ehqa.api")
# Seconds the follower lets pass after an event is recorded (PostgreSQL) before it catches up:
# a write catches its own episode's views up itself, at once (Api.episode_caught_up).
FOLLOW_SETTLE = 0.2


Digest = tuple[Path | None, str | None]
RESTART_AFTER = 5.0  # seconds before a sweep process that ended on its own is started again


def start(services: Services, stop: threading.Event, interval: float,
          digest: Digest = (None, None)) -> list[threading.Thread]:  # fmt: skip
    """Keep the views caught up, and wake the sweep (one sweeper per store); after each sweep,
    the daily digest of the chain (EHQA_DIGEST_FILE, posted to EHQA_DIGEST_WEBHOOK), as
    `ehqa scheduler run` writes it. Returns the threads to join after `stop` is set."""
    follower = services.sibling()

    def follow_views() -> None:
        try:
            follow(follower.app, follower.views, follower.projections, stop, poll_interval=1.0,
                   batch_size=CATCH_UP_BATCH, settle=FOLLOW_SETTLE,
                   exclusive=follower.catch_up_lock.held)  # fmt: skip
        except Exception:
            log.exception("the view follower stopped")
            raise
        finally:
            follower.close()

    if services.env["PERSISTENCE_MODULE"] == "eventsourcing.popo":
        sweep = threading.Thread(target=sweep_every, args=(services.sibling(), interval, digest,
                                 stop), daemon=True, name="ehqa-sweep")  # fmt: skip
    else:
        sweep = threading.Thread(target=sweep_process, args=(services, interval, digest, stop),
                                 daemon=True, name="ehqa-sweep")  # fmt: skip
    threads = [threading.Thread(target=follow_views, daemon=True, name="ehqa-views"), sweep]
    for thread in threads:
        thread.start()
    return threads


def sweep_process(services: Services, interval: float, digest: Digest,
                  stop: threading.Event) -> None:  # fmt: skip
    """Run the sweep in a child process until `stop` is set; then stop it (and wait for the
    sweep under way to end its batch, at most 30 s). A child that ends on its own (killed by
    the system for memory, or failing to start) is logged and started again after
    RESTART_AFTER seconds: the server never goes on without a sweep."""
    context = multiprocessing.get_context("spawn")  # (no copy of this process's threads)
    stopping = context.Event()
    json_logs = any(isinstance(h.formatter, JsonLines) for h in logging.getLogger().handlers)
    while not stop.is_set():
        child = context.Process(target=sweeping, name="ehqa-sweep", daemon=True,
                                args=(services.database_url, services.options, interval, digest,
                                      stopping, json_logs))  # fmt: skip
        try:
            child.start()
        except Exception:  # (out of memory or processes, say: tried again, never given up)
            log.exception("the sweep's process could not be started; trying again in %s s",
                          RESTART_AFTER)  # fmt: skip
            stop.wait(RESTART_AFTER)
            continue
        while child.is_alive() and not stop.wait(1.0):
            pass
        if stop.is_set():
            stopping.set()
            child.join(timeout=30)
            if child.is_alive():
                child.terminate()
                child.join()
            return
        log.error("the sweep's process ended (exit code %s); starting it again in %s s",
                  child.exitcode, RESTART_AFTER)  # fmt: skip
        stop.wait(RESTART_AFTER)


def sweeping(database_url: str, options: dict[str, Any], interval: float, digest: Digest,
             stopping: Any, json_logs: bool) -> None:  # fmt: skip
    """The sweep process: sweep now and every `interval` seconds until `stopping` is set or the
    server's process is gone."""
    from ehqa.api.logs import configure

    configure("json" if json_logs else "text")
    stop = threading.Event()
    parent = multiprocessing.parent_process()

    def watch() -> None:
        # (`stopping` set, or the server gone without setting it: killed, or crashed)
        while not stopping.wait(1.0):
            if parent is not None and not parent.is_alive():
                break
        stop.set()

    threading.Thread(target=watch, daemon=True, name="ehqa-sweep-watch").start()
    sweep_every(Services(database_url, **options), interval, digest, stop)


def sweep_every(sweeper: Services, interval: float, digest: Digest, stop: threading.Event) -> None:
    sweeper.catch_up_batch = CATCH_UP_BATCH

    def sweep() -> None:
        try:
            raised = sweeper.sweep(stop=stop, paced=True)
            if raised:
                log.info(json.dumps({"sweep": len(raised)}))
        except Exception:
            log.exception("sweep failed")
        digest_file, digest_webhook = digest
        if digest_file is not None:
            from ehqa.trail import digest_round

            digest_round(sweeper, digest_file, log, digest_webhook)  # (logs its own failure)

    try:
        run_every(sweep, interval, stop)
    finally:
        sweeper.close()


def lifespan(
    services: Services,
    background: bool,
    interval: float,
    digest: Digest = (None, None),
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
