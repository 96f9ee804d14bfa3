"""Where one read's time goes: a pyinstrument profile of GET requests inside the server.

    .venv/bin/python bench/profile_api.py --db STORE [--path /episodes/REF] [--requests 300]

Builds the app on an existing store (simulate one first: `ehqa --db FILE simulate --episodes
2000 --seed 4 --end 2026-11-20`) as `ehqa serve` does, issues an admin token, and sends the
requests through the app's whole ASGI stack (middleware, dependencies, route, response model)
in this thread, sync routes included (run inline instead of in the thread pool, so the
profiler sees them), then prints the profile beside the time per request and GET /health's in
the same run. Needs pyinstrument (`pip install pyinstrument`).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import fastapi.dependencies.utils
import fastapi.routing
import httpx
from pyinstrument import Profiler

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.auth import TokenBook
from ehqa.clock import fixed
from ehqa.services import Services

TODAY = "2026-11-20"


async def _inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


async def _run(app: Any, token: str, path: str, count: int, profiler: Profiler) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for target in ("/health", path):  # (warm up both)
            assert (await client.get(target, headers=headers)).status_code == 200
        for target in ("/health", path):
            started = time.perf_counter()
            for _ in range(count):
                await client.get(target, headers=headers)
            per = (time.perf_counter() - started) / count * 1000
            print(f"{target}: {per:.2f} ms a request ({count} in this thread, no network)")
        profiler.start()
        for _ in range(count):
            await client.get(path, headers=headers)
        profiler.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--path", default="/episodes/SIM-4-000001")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    fastapi.routing.run_in_threadpool = _inline  # type: ignore[assignment]
    fastapi.dependencies.utils.run_in_threadpool = _inline  # type: ignore[assignment]
    services = Services(args.db, clock=fixed(__import__("datetime").date.fromisoformat(TODAY)))
    token = TokenBook(services.views).issue("profile", Role.ADMIN, None, None).token
    services.catch_up()
    # As `ehqa serve` builds it (a follower beside it: here the views were caught up above, and
    # the lifespan that would start the follower and the sweep is not run).
    app = create_app(services, background=True)
    profiler = Profiler(interval=0.0005)
    asyncio.run(_run(app, token, args.path, args.requests, profiler))
    app.state.api.close()
    print(profiler.output_text(unicode=False, color=False, show_all=False))
    services.close()


if __name__ == "__main__":
    main()
