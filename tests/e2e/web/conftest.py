"""The browser harness: `ehqa serve` as a real subprocess on a simulated caseload (on an SQLite
file and on PostgreSQL), Debian's Chromium driven by Playwright, axe-core run on each page, and
a screenshot of each page written to tests/artifacts/web/.

The store is made here, in this process, through the application's own commands (a simulated
caseload, then a lead professional's own episodes and the alerts the sweep raises for them);
the server then runs on it in a process of its own, as a council runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from aggregates.access import Role
from ehqa.auth import TokenBook
from ehqa.clock import fixed
from ehqa.commands import parse_line
from ehqa.services import Services
from ehqa.simulate import simulate
from tests.conftest import postgres_server_url

TODAY = date(2025, 11, 20)
PORTS = range(8670, 8680)  # this harness's ports for `ehqa serve`
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
SESSION_SECRET = "web-tests-" + "k" * 40

PEOPLE = {
    "jo": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
    "lee": ("Lee Walsh", Role.LEAD_PROFESSIONAL, "youth_service"),
    "coordinator": ("Partnership co-ordinator", Role.COORDINATOR, None),
}


@dataclass(frozen=True)
class Store:
    url: str
    kind: str
    tokens: dict[str, str]  # person -> API token
    subjects: dict[str, str]  # person -> stable subject (token:<id>)


@dataclass(frozen=True)
class Site:
    base: str
    store: Store


def _jo_episodes(subject: str) -> list[dict[str, Any]]:
    """Jo's own: one overdue (the sweep raises alerts for Jo), one recently opened (its clock
    not yet due), and one whose family's consent names only another agency (Jo may not read
    it, so no page of Jo's shows it)."""
    lead = {"name": "Jo Bright", "agency": "primary_school", "subject": subject}
    return [
        {"cmd": "open", "episode": "EH-W1", "on": "2025-09-01", "child": "C-W1", "lead": lead},
        {"cmd": "record_consent", "episode": "EH-W1", "on": "2025-09-02",
         "agencies": ["primary_school", "health_visiting"]},
        {"cmd": "open", "episode": "EH-W2", "on": "2025-11-17", "child": "C-W2", "lead": lead},
        {"cmd": "open", "episode": "EH-W3", "on": "2025-09-03", "child": "C-W3", "lead": lead},
        {"cmd": "record_consent", "episode": "EH-W3", "on": "2025-09-04",
         "agencies": ["youth_service"]},
    ]  # fmt: skip


def build_store(url: str, kind: str) -> Store:
    services = Services(url, clock=fixed(TODAY))
    try:
        simulate(services.app, 60, seed=14, start=date(2024, 11, 1), end=TODAY)
        book = TokenBook(services.views)
        issued = {key: book.issue(*person) for key, person in PEOPLE.items()}
        subjects = {key: f"token:{i.id}" for key, i in issued.items()}
        for line in _jo_episodes(subjects["jo"]):
            parse_line(json.dumps(line)).apply(services.app, by="system:web-tests")
        services.catch_up()
        assert services.sweep(TODAY), "the sweep raised no alert"
        return Store(url, kind, {k: i.token for k, i in issued.items()}, subjects)
    finally:
        services.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    """A simulated caseload with Jo's episodes and alerts, on each store (made once a module)."""
    if request.param == "sqlite":
        yield build_store(str(tmp_path_factory.mktemp("web") / "ehqa.db"), "sqlite")
        return
    server = postgres_server_url()
    schema = f"w_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield build_store(f"{server}{'&' if '?' in server else '?'}schema={schema}", "postgres")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def serving(url: str, logs: Path, env: dict[str, str] | None = None,
            ports: range = PORTS) -> Iterator[str]:  # fmt: skip
    """`ehqa serve` on the first of this harness's ports that is free (another test's server,
    or another run's, may hold one), ready once its log says it listens and /health answers."""
    for port in ports:
        log_path = logs / f"serve-{port}-{uuid.uuid4().hex[:6]}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "ehqa", "--db", url, "serve", "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "EHQA_TODAY": TODAY.isoformat(), "EHQA_BACKGROUND": "0",
                     "EHQA_SESSION_SECRET": SESSION_SECRET, **(env or {})},
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            if _started(process, base, log_path):
                yield base
                return
        finally:
            _stop(process)
    raise AssertionError(f"no port of {ports} was free for `ehqa serve`")


def _started(process: subprocess.Popen[bytes], base: str, log_path: Path) -> bool:
    deadline = time.monotonic() + 90
    while True:
        exited = process.poll() is not None
        log = log_path.read_text()
        if "address already in use" in log:
            return False
        assert not exited, log
        if f"Uvicorn running on {base} " in log:
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    return True
            except (urllib.error.URLError, OSError):
                pass
        assert time.monotonic() < deadline, f"the server did not start:\n{log}"
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def site(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with serving(store.url, tmp_path_factory.mktemp("serve")) as base:
        yield Site(base, store)


# ---- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium (never a browser of Playwright's own download), headless."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A browser of its own per test (no cookie carried over). CSP is bypassed only so that
    axe-core can be injected into the page."""
    made = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    made.set_default_timeout(20_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


AXE = Axe()


def check_accessible(page: Page) -> None:
    """axe-core on the page as it is: any serious or critical violation fails the test."""
    results = AXE.run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{page.url}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in bad
    )


def screenshot(page: Page, name: str, store: str) -> Path:
    """The page as drawn, as tests/artifacts/web/<name>-<store>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{re.sub(r'[^a-z0-9-]+', '-', name.lower())}-{store}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def look(page: Page, name: str, store: str) -> None:
    """Every page a test reaches is checked with axe and photographed."""
    check_accessible(page)
    screenshot(page, name, store)


def sign_in(page: Page, base: str, token: str, next_path: str = "/web/") -> None:
    page.goto(f"{base}{next_path}")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()


def api_get(base: str, token: str, path: str) -> Any:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())
