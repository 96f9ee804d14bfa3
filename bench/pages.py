"""The drift board page beside the JSON drift board: p50 and p99 at 100,000 open episodes.

    .venv/bin/python bench/pages.py [--open-episodes 100000] [--store DIR] [--requests 200]

Builds (or reuses, with --store naming a directory that already holds one) an SQLite store with
at least `--open-episodes` open episodes, written by the simulator in waves opened in the last
seven months (its bulk path: whole histories saved in batches, then the views caught up once per
wave). Then starts `ehqa serve` on it, signs in once for a page session and once for an API
token, and times, in the same run, alternating requests for the drift board page
(`GET /web/drift`, its first page, with the counts by rung and the total) and the JSON drift
board (`GET /drift?limit=50`, the same first page). Prints p50 and p99 of each and their ratio
(target: the page within 2x of the JSON).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

TODAY = date(2026, 11, 20)


def build(directory: Path, wanted_open: int) -> Path:
    """The store at `directory`/pages.db, simulated until `wanted_open` episodes are open."""
    from ehqa.clock import fixed
    from ehqa.services import Services
    from ehqa.simulate import simulate

    path = directory / "pages.db"
    done = directory / "built"
    if done.exists():
        print(f"reusing the store at {path} ({done.read_text().strip()})")
        return settle(path)
    services = Services(str(path), clock=fixed(TODAY))
    try:
        started, events, seed, still_open, episodes = time.perf_counter(), 0, 77, 0, 0
        while still_open < wanted_open:
            wave = max(1000, int((wanted_open - still_open) * 1.2))
            events += simulate(services.app, wave, seed, TODAY - timedelta(days=210), TODAY).events
            episodes += wave
            seed += 1
            services.catch_up()
            still_open = services.views.query(
                "SELECT COUNT(*) FROM ehqa_episodes WHERE closed_on IS NULL"
            )[0][0]
            print(f"  {episodes:,} episodes simulated, {still_open:,} open", flush=True)
        summary = (f"{episodes:,} episodes, {still_open:,} open, {events:,} events, built in"
                   f" {time.perf_counter() - started:.0f}s")  # fmt: skip
        done.write_text(summary + "\n")
        print(summary)
    finally:
        services.close()
    return settle(path)


def settle(path: Path) -> Path:
    """An audit with a safeguarding concern, recorded after the simulated history, as a live
    service records audits and alerts every day. Without it the views of audits and alerts
    would stand at the start of the log, and every catch-up (each board read, JSON or page,
    catches the views up first) would scan the whole log for their events."""
    from ehqa.clock import fixed
    from ehqa.services import Services

    services = Services(str(path), clock=fixed(TODAY))
    try:
        if not any(audit["audit"] == "AU-BENCH" for audit in services.read.audits()):
            services.assign_audit("AU-BENCH", episode="SIM-77-000001", scheme="darlington",
                                  auditor="Bench Auditor", reason="bench", on=TODAY)  # fmt: skip
            services.app.change_audit("AU-BENCH", lambda a, t: a.raise_safeguarding_concern(
                "a concern recorded by the bench", TODAY, t))  # fmt: skip
        services.catch_up()
    finally:
        services.close()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ehqa(db: Path, *args: str) -> str:
    env = {**os.environ, "EHQA_TODAY": TODAY.isoformat()}
    return subprocess.run([sys.executable, "-m", "ehqa", "--db", str(db), *args], check=True,
                          capture_output=True, text=True, env=env).stdout.strip()  # fmt: skip


def sign_in(conn: http.client.HTTPConnection, token: str) -> str:
    """A page session made from the API token: its cookie."""
    conn.request("GET", "/web/sign-in")
    answer = conn.getresponse()
    page, cookie = answer.read().decode(), answer.getheader("set-cookie", "").split(";")[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if csrf is None:
        raise SystemExit("the sign-in page has no CSRF token")
    form = urlencode({"csrf_token": csrf.group(1), "token": token})
    conn.request("POST", "/web/sign-in", body=form, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    answer = conn.getresponse()
    answer.read()
    if answer.status != 303:
        raise SystemExit(f"signing in answered {answer.status}")
    return answer.getheader("set-cookie", "").split(";")[0] or cookie


def timed(
    conn: http.client.HTTPConnection, path: str, headers: dict[str, str]
) -> tuple[float, bytes]:
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    answer = conn.getresponse()
    body = answer.read()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200:
        raise SystemExit(f"GET {path} answered {answer.status}: {body[:300]!r}")
    return elapsed, body


def write(conn: http.client.HTTPConnection, reference: str, headers: dict[str, str]) -> None:
    """A child seen today, recorded through the API (the views move on)."""
    body = json.dumps({"on": TODAY.isoformat()}).encode()
    conn.request("POST", f"/episodes/{reference}/see_child", body=body,
                 headers={**headers, "Content-Type": "application/json"})  # fmt: skip
    answer = conn.getresponse()
    answer.read()
    if answer.status != 200:
        raise SystemExit(f"recording a child seen on {reference} answered {answer.status}")


def measure(db: Path, requests: int) -> None:
    token = ehqa(db, "tokens", "create", "--role", "coordinator", "--name", "bench")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "ehqa", "--db", str(db), "serve", "--port",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "EHQA_TODAY": TODAY.isoformat(),
                                   "EHQA_BACKGROUND": "false"})  # fmt: skip
    try:
        for _ in range(600):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/health")
                break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        page = {"Cookie": sign_in(conn, token)}
        api = {"Authorization": f"Bearer {token}"}
        kinds = {"page": ("/web/drift", page), "json": ("/drift?limit=50", api)}
        timings: dict[str, list[float]] = {kind: [] for kind in kinds}
        for path, headers in kinds.values():  # warm, and say what is compared
            _, body = timed(conn, path, headers)
            shown = re.search(rb'id="total"[^>]*>([^<]*)<', body)
            if shown:
                print(f"  the page: {shown.group(1).decode().strip()}")
        for n in range(requests):  # alternating, so both meet the same moments of the machine
            for kind in ("page", "json") if n % 2 else ("json", "page"):
                path, headers = kinds[kind]
                timings[kind].append(timed(conn, path, headers)[0])
        # After a step is recorded the views move on, so the page counts by rung afresh (and
        # reads the filters' values afresh): each read here follows a write of its own.
        _, body = timed(conn, "/drift?limit=200", api)
        refs = sorted({row["episode"] for row in json.loads(body)})
        after: dict[str, list[float]] = {"page": [], "json": []}
        for n in range(max(requests // 10, 4)):
            for kind in ("page", "json") if n % 2 else ("json", "page"):
                write(conn, refs[n % len(refs)], api)
                path, headers = kinds[kind]
                after[kind].append(timed(conn, path, headers)[0])
        rows = [("json", "/drift?limit=50 (JSON)", timings), ("page", "/web/drift (the page)", timings),
                ("json", "  the same, after a write", after), ("page", "  the same, after a write", after)]  # fmt: skip
        print(f"{'GET':<30} {'n':>5} {'p50 ms':>8} {'p99 ms':>8}")
        for kind, label, found in rows:
            values = found[kind]
            print(f"{label:<30} {len(values):>5} {statistics.median(values):>8.1f}"
                  f" {percentile(values, 0.99):>8.1f}")  # fmt: skip
        for label, found in (("", timings), (" after a write", after)):
            page_p = (statistics.median(found["page"]), percentile(found["page"], 0.99))
            json_p = (statistics.median(found["json"]), percentile(found["json"], 0.99))
            print(f"page / JSON{label}: p50 {page_p[0] / json_p[0]:.2f}x, p99"
                  f" {page_p[1] / json_p[1]:.2f}x (target: within 2x)")  # fmt: skip
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-episodes", type=int, default=100_000)
    parser.add_argument("--store", type=Path, default=None, help="a directory to build or reuse")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    directory = args.store or Path(tempfile.mkdtemp())
    directory.mkdir(parents=True, exist_ok=True)
    print(f"sqlite: at least {args.open_episodes:,} open episodes, as at {TODAY}")
    db = build(directory, args.open_episodes)
    measure(db, args.requests)


if __name__ == "__main__":
    main()
