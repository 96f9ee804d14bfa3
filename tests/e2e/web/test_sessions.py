"""Sessions: a session unused for longer than the idle timeout is sent to sign in, one in use
is kept; revoking the token a session was made from ends it; the cookie is HttpOnly and
SameSite=Lax, and Secure (as __Host-ehqa_session) when the request came over https."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.auth import TokenBook
from ehqa.services import Services
from ehqa.web.config import WebConfig
from tests.e2e.web.conftest import Site, Store, look, serving, sign_in

IDLE_SECONDS = 6


@pytest.fixture(scope="module")
def idle_site(store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The same store served with a six-second idle timeout."""
    env = {"EHQA_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60)}
    with serving(store.url, tmp_path_factory.mktemp("idle"), env) as base:
        yield Site(base, store)


def test_a_session_in_use_is_kept_and_an_idle_one_is_sent_to_sign_in(
    idle_site: Site, page: Page
) -> None:
    base = idle_site.base
    sign_in(page, base, idle_site.store.tokens["jo"], "/web/caseload")
    for _ in range(3):  # used every two seconds: never idle for six
        time.sleep(2)
        page.goto(f"{base}/web/caseload")
        expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
    time.sleep(IDLE_SECONDS + 1)
    page.goto(f"{base}/web/caseload")
    expect(page).to_have_url(re.compile(r"/web/sign-in\?next=/web/caseload&ended=idle$"))
    expect(page.get_by_role("status")).to_contain_text("not used for a while")
    look(page, "sign-in-after-idle", idle_site.store.kind)
    page.get_by_label("API token").fill(idle_site.store.tokens["jo"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/web/caseload")


def test_revoking_the_token_ends_the_session_made_from_it(site: Site, page: Page) -> None:
    services = Services(site.store.url)
    try:
        book = TokenBook(services.views)
        issued = book.issue("Ann Cole", Role.LEAD_PROFESSIONAL, "health_visiting")
        sign_in(page, site.base, issued.token, "/web/caseload")
        expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
        book.revoke(issued.id)
    finally:
        services.close()
    page.goto(f"{site.base}/web/caseload")
    expect(page).to_have_url(re.compile(r"ended=token$"))
    expect(page.get_by_role("status")).to_contain_text("no longer works")


def test_the_session_cookie_is_httponly_and_lax_and_not_readable_by_script(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["jo"], "/web/caseload")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {"ehqa_session"}
    cookie = cookies["ehqa_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    assert page.evaluate("document.cookie") == ""


def test_over_https_the_cookie_is_secure_and_host_only(tmp_path: Path) -> None:
    services = Services(str(tmp_path / "ehqa.db"))
    try:
        app = create_app(services, pages=WebConfig(session_secret="s" * 40))
        token = app.state.api.tokens.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school")
        with TestClient(app, base_url="https://ehqa.example") as client:
            form = client.get("/web/sign-in")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert csrf and "__Host-ehqa_session=" in form.headers["set-cookie"]
            answer = client.post("/web/sign-in", data={"token": token, "csrf_token": csrf[1]},
                                 follow_redirects=False)  # fmt: skip
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"].lower()
            assert cookie.startswith("__host-ehqa_session=")
            parts = {part.strip() for part in cookie.split(";")}
            assert {"secure", "httponly", "samesite=lax", "path=/"} <= parts, cookie
    finally:
        services.close()
