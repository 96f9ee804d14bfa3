"""Before a server's first request: what its first requests would otherwise pay for, done.

FastAPI builds each included router's routes (their dependencies, their request and response
models) when a request first reaches the router, and the working calendar loads the bank
holidays and counts the working days when a date is first asked about. Either holds the
interpreter for a tenth of a second or more, and every request under way waits meanwhile:
`ehqa serve` does both before it listens.

Then it freezes what start-up made (`gc.freeze`): about 170,000 objects (modules, the app's
routes and models, the calendar) that live as long as the server. Python's full collection
walks every object it tracks, and with those it held the interpreter for 170 to 190 ms, every
request under way waiting: the tail of `bench/api.py` under load (p99 100 to 140 ms on
PostgreSQL in runs with such a collection, beside 20 to 35 ms without). Frozen, they are never
walked again; what requests make after start-up is collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from ehqa.services import Services

AHEAD = timedelta(days=2 * 366)  # dates a request may ask about beyond today, counted now


def warm(app: FastAPI, services: Services) -> None:
    _build(app.router.routes)
    services.app.calendar.load_until(services.app.clock() + AHEAD)
    gc.collect()  # (what start-up left behind, then the rest kept out of every collection)
    gc.freeze()


def _build(routes: Iterable[Any]) -> None:
    """Each included router's routes built, as the first request reaching it would build them
    (routes that are not an included router's are built with the app)."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            _build(candidates())
            low_priority = getattr(route, "effective_low_priority_routes", None)
            if callable(low_priority):
                low_priority()
