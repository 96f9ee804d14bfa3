"""The stages of `bench/scale.py`, each run in a child process of its own.

    .venv/bin/python bench/scalegen.py STAGE URL [ARGS...]

prints one line of JSON: what the stage measured. The parent (`bench/scale.py`) reads a child's
peak resident size with `os.wait4`, so each stage's memory is its own. Stages:
- `simulate URL EPISODES`: five years of a county, written through the domain's own commands
  and saved in business-date order across episodes (`simulate(interleaved=True)`, the bulk
  path); the histories' run and the save are timed apart.
- `rawwrite URL COPY_URL`: the baseline of the write rate: the same stored events read back and
  inserted into an empty store by eventsourcing's recorder alone (no domain, no encoding), in
  the batches the simulator saves.
- `scan URL`: the baseline of the rebuild: the raw notification-log scan, as catch-up reads it.
- `rebuild URL`: every view emptied and rebuilt, one after another.
- `queries URL`: overdue today (the drift board's first page and its count) and one
  episode's timeline, p50/p99, beside a query's round trip (`SELECT 1`) and the timeline got by
  replaying the episode's events.
- `sweeps URL`: the first sweep (every alert that has fallen due), five steady sweeps
  (nothing new due) and the next working day's, beside finding the due alerts by replaying
  every aggregate (timed on a sample).
- `api URL PORT RATE SECONDS`: `ehqa serve` on the store (on the first free port from PORT up to
  8639) under the mix of `bench/api.py`, p50/p99 per kind beside `GET /health`'s.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

TODAY = date(2026, 11, 20)
YEARS = 5
SEED = 11
SAVE_BATCH = 2000  # events a raw insert writes at a time (the simulator saves 10 x 200)


def services_of(url: str) -> Any:
    from ehqa.clock import fixed
    from ehqa.services import Services

    return Services(url, clock=fixed(TODAY))


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p99 (nearest rank) in milliseconds of timings in seconds."""
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {"p50": rank(0.5), "p99": rank(0.99), "count": len(ordered)}


def simulate(url: str, episodes: int) -> dict[str, Any]:
    from ehqa.simulate import simulate as run

    services = services_of(url)
    marks: list[float] = []  # when each progress report came (the last: every event saved)
    started = time.perf_counter()
    report = run(
        services.app, episodes, SEED, TODAY - timedelta(days=365 * YEARS), TODAY,
        progress=lambda _: marks.append(time.perf_counter()), interleaved=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    histories_run = marks[-2] if len(marks) > 1 else started
    log = services.app.recorder.max_notification_id() or 0
    services.close()
    return {
        "episodes": report.episodes, "events": report.events, "notifications": log,
        "seconds": seconds, "save_seconds": marks[-1] - histories_run,
        "refused": len(report.refused),
    }  # fmt: skip


def rawwrite(url: str, copy_url: str) -> dict[str, Any]:
    from eventsourcing.persistence import StoredEvent

    from projections.runner import PAGE

    source, copy = services_of(url), services_of(copy_url)
    written, seconds, start, batch = 0, 0.0, 1, []
    while page := source.app.recorder.select_notifications(start=start, limit=PAGE):
        batch += [
            StoredEvent(n.originator_id, n.originator_version, n.topic, n.state) for n in page
        ]
        start = page[-1].id + 1
        while len(batch) >= SAVE_BATCH:
            chunk, batch = batch[:SAVE_BATCH], batch[SAVE_BATCH:]
            _, took = timed(lambda chunk=chunk: copy.app.recorder.insert_events(chunk))
            written, seconds = written + len(chunk), seconds + took
    if batch:
        _, took = timed(lambda: copy.app.recorder.insert_events(batch))
        written, seconds = written + len(batch), seconds + took
    source.close()
    copy.close()
    return {"events": written, "seconds": seconds}


def scan(url: str) -> dict[str, Any]:
    from projections.runner import scan_rate

    services = services_of(url)
    count, seconds = scan_rate(services.app)
    services.close()
    return {"events": count, "seconds": seconds}


def rebuild(url: str) -> dict[str, Any]:
    services = services_of(url)
    views: dict[str, Any] = {}
    for projection in services.projections:
        applied, seconds = timed(lambda name=projection.name: services.rebuild(name))
        views[projection.name] = {"events": applied, "seconds": seconds}
    services.close()
    return {
        "events": sum(v["events"] for v in views.values()),
        "seconds": sum(v["seconds"] for v in views.values()),
        "views": views,
    }


def sample_refs(services: Any, count: int, open_only: bool = False) -> list[str]:
    where = " WHERE closed_on IS NULL" if open_only else ""
    refs = [row[0] for row in services.views.query(f"SELECT reference FROM ehqa_episodes{where}")]
    return random.Random(3).sample(refs, min(count, len(refs)))


def repeat(action: Callable[[], Any], runs: int) -> list[float]:
    action()  # (warm)
    return [timed(action)[1] for _ in range(runs)]


def queries(url: str) -> dict[str, Any]:
    services = services_of(url)
    read, refs = services.read, sample_refs(services, 200)
    picks = itertools.cycle(refs)
    board = repeat(lambda: (read.drift(TODAY, limit=50), read.drift_count(TODAY)), 100)
    floor = repeat(lambda: services.views.query("SELECT 1"), 200)
    timeline = repeat(lambda: read.timeline(next(picks)), 199)
    picks = itertools.cycle(refs)
    replayed = repeat(lambda: services.app.timeline(next(picks)), 199)
    opened = services.views.query("SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL")
    overdue = read.drift_count(TODAY)
    services.close()
    return {
        "open": int(opened[0][0]), "overdue": overdue, "board": percentiles(board),
        "select1": percentiles(floor), "timeline": percentiles(timeline),
        "replayed": percentiles(replayed),
    }  # fmt: skip


def sweeps(url: str) -> dict[str, Any]:
    from aggregates.alerts import ladder

    services = services_of(url)
    app = services.app
    running = services.views.query(
        "SELECT COUNT(*) FROM ehqa_clocks WHERE stopped_on IS NULL AND closed_on IS NULL"
    )[0][0]
    first, first_seconds = timed(lambda: services.sweep(TODAY))
    steady = [timed(lambda: services.sweep(TODAY))[1] for _ in range(5)]
    tomorrow = TODAY + timedelta(days=1)
    while not app.calendar.is_working_day(tomorrow):
        tomorrow += timedelta(days=1)
    following, next_seconds = timed(lambda: services.sweep(tomorrow))
    sample = sample_refs(services, 300, open_only=True)
    opened = services.views.query("SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL")
    every_open = int(opened[0][0])

    def replay() -> None:
        for ref in sample:
            episode = app.get_episode(ref)
            escalation = app.policy_of(episode).escalation
            for entry in app.clocks(episode, tomorrow):
                if entry.status.value in ("pending", "overdue"):
                    ladder(entry.due_on, escalation, app.calendar).fell_due(tomorrow)

    _, replay_seconds = timed(replay)
    services.close()
    return {
        "running": int(running), "first": len(first or []), "first_seconds": first_seconds,
        "steady": sorted(steady)[2], "next_day": str(tomorrow), "next": len(following or []),
        "next_seconds": next_seconds, "open": every_open, "sampled": len(sample),
        "replay_seconds": replay_seconds / max(len(sample), 1) * every_open,
    }  # fmt: skip


KINDS = ["episode"] * 30 + ["timeline"] * 25 + ["deadlines"] * 15 + ["drift"] * 10 + ["write"] * 20
REQUEST_TIMEOUT = 10.0  # seconds a request may wait for its answer
GRACE = 30.0  # seconds after the last planned moment that requests may still be sent
SETTLE = 3.0  # seconds between the server's first answer and the load
PORTS = 10  # how many ports from the one asked for this benchmark may serve on


def serve(url: str, port: int, token: str) -> tuple[subprocess.Popen[bytes], int]:
    """`ehqa serve` on the first of the PORTS ports from `port` that it binds, once it answers as
    this store's server: `token` (made on this store) is accepted (another run's server on the same
    port, as when two runs start at once, refuses it)."""
    env = {**os.environ, "EHQA_TODAY": TODAY.isoformat()}
    for candidate in range(port, port + PORTS):
        if not _free(candidate):
            continue
        server = subprocess.Popen(
            [sys.executable, "-m", "ehqa", "--db", url, "serve", "--port", str(candidate)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        for _ in range(600):
            if server.poll() is not None:
                break  # (the port was taken: the next one)
            try:
                probe = http.client.HTTPConnection("127.0.0.1", candidate, timeout=2)
                probe.request("GET", "/drift?limit=1", headers={"Authorization": f"Bearer {token}"})
                answer = probe.getresponse()
                answer.read()
                if answer.status == 200:
                    return server, candidate
                if answer.status == 401:
                    break  # (another store's server holds the port: the next one)
            except OSError:
                time.sleep(0.1)
        server.kill()
        server.wait()
    raise SystemExit(f"ehqa serve could not listen on any of ports {port}-{port + PORTS - 1}")


def _free(port: int) -> bool:
    """Nothing listens on the port now (a server started on it may still lose it to another)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def request(kind: str, ref: str) -> tuple[str, str, bytes | None]:
    body = json.dumps({"on": TODAY.isoformat()}).encode()
    return {
        "episode": ("GET", f"/episodes/{ref}", None),
        "timeline": ("GET", f"/episodes/{ref}/timeline", None),
        "deadlines": ("GET", f"/episodes/{ref}/deadlines", None),
        "drift": ("GET", "/drift?limit=50", None),
        "write": ("POST", f"/episodes/{ref}/see_child", body),
        "health": ("GET", "/health", None),
    }[kind]


def drive(port: int, headers: dict[str, str], plan: list[tuple[float, str, str]],
          grace: float) -> dict[str, Any]:  # fmt: skip
    """Send `plan` (when, kind, episode) from 16 keep-alive connections. A request's time runs
    from when it was due, so a server that falls behind shows it; one unanswered in
    REQUEST_TIMEOUT counts at that time and as unexpected. Nothing is sent `grace` seconds
    after the plan's end: what was left is counted as not sent."""
    timings: dict[str, list[float]] = {}
    errors: list[str] = []
    lock, schedule = threading.Lock(), iter(plan)
    started = time.perf_counter()
    stop_at = started + (plan[-1][0] if plan else 0) + grace

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        while (item := next_item()) is not None:
            at, kind, ref = item
            due = started + at
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            method, path, body = request(kind, ref)
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError as error:  # (a timeout, or the connection dropped)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
                status, path = 0, f"{path} ({type(error).__name__})"
            took = time.perf_counter() - due
            with lock:
                timings.setdefault(kind, []).append(took)
                if not status or status >= 500 or (status >= 400 and kind != "write"):
                    errors.append(f"{kind} {path}: {status or 'no answer'}")

    def next_item() -> tuple[float, str, str] | None:
        with lock:
            return next(schedule, None) if time.perf_counter() < stop_at else None

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"timings": timings, "errors": errors, "wall": time.perf_counter() - started}


def api(url: str, port: str, rate: str, seconds: str) -> dict[str, Any]:
    """The mix of `bench/api.py` at `rate` requests/s for `seconds`, every tenth GET /health."""
    services = services_of(url)
    refs = sample_refs(services, 400, open_only=True) or sample_refs(services, 400)
    services.close()
    token = subprocess.run(
        [sys.executable, "-m", "ehqa", "--db", url, "tokens", "create", "--role", "admin",
         "--name", "scale"], check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    rng, per_second = random.Random(1), float(rate)
    plan = [(i / per_second, rng.choice(KINDS) if i % 10 else "health", rng.choice(refs))
            for i in range(int(per_second * float(seconds)))]  # fmt: skip
    server, bound = serve(url, int(port), token)
    try:
        time.sleep(SETTLE)  # (the server's start-up catch-up and sweep, before the load begins)
        found = drive(bound, headers, plan, grace=GRACE)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    timings = found["timings"]
    every = [t for kind, values in timings.items() if kind != "health" for t in values]
    answered = sum(len(values) for values in timings.values())
    return {
        "achieved": answered / found["wall"], "count": answered, "planned": len(plan),
        "errors": len(found["errors"]), "examples": found["errors"][:3],
        "all": percentiles(every or [0.0]), "health": percentiles(timings.get("health", [0.0])),
        "kinds": {k: percentiles(v) for k, v in timings.items() if k != "health"},
        "port": bound,
    }  # fmt: skip


STAGES: dict[str, Callable[..., dict[str, Any]]] = {
    "simulate": lambda url, n: simulate(url, int(n)),
    "rawwrite": rawwrite,
    "scan": scan,
    "rebuild": rebuild,
    "queries": queries,
    "sweeps": sweeps,
    "api": api,
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in STAGES:
        raise SystemExit(f"usage: scalegen.py {{{','.join(STAGES)}}} URL [ARGS...]")
    print(json.dumps(STAGES[argv[0]](*argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
