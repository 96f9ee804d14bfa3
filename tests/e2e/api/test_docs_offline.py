"""Issue 11: /docs (Swagger UI) and /redoc render in a real browser with nothing fetched from
anywhere but the server itself. Chromium (the system's, /usr/bin/chromium) is driven by
Playwright; every request to another host is blocked and recorded, and none may be made.

ReDoc's bundle asks for its makers' logo from their CDN; the pages' Content-Security-Policy
stops that in the browser before any request is made (the logo is then not shown). That one
refusal is expected and checked for by name, so that any other outside resource fails here."""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.api.conftest import Live

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"  # (in ReDoc's bundle: never fetched)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the docs tests must run in CI")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            yield found
        finally:
            found.close()


class Page:
    """A page that may reach 127.0.0.1 only: any other request is aborted and recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.elsewhere: list[str] = []  # requests to another host (aborted)
        self.refused: list[str] = []  # what the page's security policy stopped the browser asking
        self.errors: list[str] = []
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        refused = re.match(
            r"Loading the \w+ '([^']+)' violates .*Content Security Policy", message.text
        )
        (self.refused if refused else self.errors).append(refused[1] if refused else message.text)

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    found = Page(browser)
    yield found
    found.close()


def test_swagger_ui_renders_offline_with_its_authorize_button(live: Live, page: Page) -> None:
    response = page.page.goto(f"{live.base}/docs", wait_until="load")
    assert response is not None and response.status == 200
    operation = page.page.locator("#operations-episodes-get_episode")
    operation.wait_for(state="visible", timeout=30_000)
    assert "/episodes/{reference}" in operation.inner_text()
    assert page.page.locator(".opblock").count() > 40
    authorize = page.page.locator("button.authorize")
    authorize.wait_for(state="visible")
    authorize.click()  # the bearer scheme's dialog
    page.page.get_by_text("bearerAuth").first.wait_for(state="visible")
    page.page.locator(".modal-ux button.btn-done").click()
    page.page.locator(".modal-ux").wait_for(state="detached")
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
    html = page.page.content()
    assert page.elsewhere == [], page.elsewhere
    assert "cdn." not in html and "jsdelivr" not in html and "unpkg" not in html
    assert page.errors == [], page.errors


def test_redoc_renders_offline(live: Live, page: Page) -> None:
    response = page.page.goto(f"{live.base}/redoc", wait_until="load")
    assert response is not None and response.status == 200
    heading = page.page.locator("h2", has_text="Get Episode").first
    heading.wait_for(state="attached", timeout=30_000)
    assert page.page.locator("h1", has_text="ehqa").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "redoc.png"), full_page=False)
    assert "cdn." not in (page.page.content().split("<redoc", 1)[0])  # (the page's own head)
    assert (page.elsewhere, page.errors) == ([], [])
    assert set(page.refused) <= {REDOC_LOGO}, page.refused


def test_the_pages_and_their_assets_are_served_from_here_whatever_the_query(live: Live) -> None:
    """No browser needed: the pages name no other host, and the query-parameter check (which
    refuses what an API route does not document) leaves the pages, the assets and the
    document alone."""
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-static/swagger-ui-bundle.js",
                 "/docs-static/swagger-ui.css", "/docs-static/redoc.standalone.js"):  # fmt: skip
        for query in ("", "?v=1", "?v=1&v=2"):
            with urllib.request.urlopen(f"{live.base}{path}{query}", timeout=30) as response:
                assert response.status == 200, (path, query)
                text = response.read().decode()
            if path in ("/docs", "/redoc"):
                assert not re.findall(r"(?:src|href)=[\"']?(?:https?:)?//", text), path
                policy = response.headers["Content-Security-Policy"]
                assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
