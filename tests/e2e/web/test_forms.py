"""The pages' forms at the HTTP level: a form is bounded but not read as JSON only under /web
(the API still refuses a body that is not JSON); the sign-in form too needs the session's
CSRF token; and sign-in returns only to a page of this service, never to another site."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.services import Services
from ehqa.web.config import OidcClient, WebConfig


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    services = Services(str(tmp_path / "ehqa.db"))
    try:
        app = create_app(services, pages=WebConfig(session_secret="f" * 40))
        token = app.state.api.tokens.create("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school")
        with TestClient(app) as made:
            yield made, token
    finally:
        services.close()


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/sign-in").text)
    assert found
    return found[1]


def test_only_a_pages_form_is_not_read_as_json(client: tuple[TestClient, str]) -> None:
    http, token = client
    answer = http.post("/episodes", content="episode=EH-1",
                       headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["detail"]
    big = http.post("/web/sign-in", content="token=" + "x" * (1024 * 1024 + 1),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert big.status_code == 413


def test_the_sign_in_form_needs_the_sessions_csrf_token(client: tuple[TestClient, str]) -> None:
    http, token = client
    _csrf(http)
    refused = http.post("/web/sign-in", data={"token": token}, follow_redirects=False)
    assert refused.status_code == 403 and "This form was not accepted" in refused.text
    assert http.get("/web/caseload", follow_redirects=False).status_code == 303  # not signed in


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/web/",
                                       "/docs", "/web\\..\\evil"])  # fmt: skip
def test_sign_in_returns_only_to_a_page_of_this_service(client: tuple[TestClient, str],
                                                         elsewhere: str) -> None:  # fmt: skip
    http, token = client
    answer = http.post("/web/sign-in", data={"token": token, "csrf_token": _csrf(http),
                                             "next": elsewhere}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/web/"
    back = http.post("/web/sign-in", data={"token": token, "csrf_token": _csrf(http),
                                           "next": "/web/caseload"}, follow_redirects=False)  # fmt: skip
    assert back.headers["location"] == "/web/caseload"


def test_an_unknown_query_parameter_on_a_page_is_refused_by_name(
    client: tuple[TestClient, str],
) -> None:
    http, _ = client
    answer = http.get("/web/sign-in?nxt=/web/caseload")
    assert answer.status_code == 400 and "unknown query parameter &#39;nxt&#39;" in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_a_provider_that_cannot_be_reached_is_said_so_on_the_sign_in_page(tmp_path: Path) -> None:
    services = Services(str(tmp_path / "ehqa.db"))
    with socket.socket() as closed:  # bound, never listening: a connection to it is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        oidc = OidcClient(
            "ehqa", "secret", f"http://127.0.0.1:{port}/.well-known/openid-configuration"
        )
        try:
            app = create_app(services, pages=WebConfig(session_secret="f" * 40, oidc=oidc))
            with TestClient(app) as http:
                assert "Sign in with your council account" in http.get("/web/sign-in").text
                answer = http.get("/web/sign-in/oidc", follow_redirects=False)
                assert answer.status_code == 503
                assert "cannot be reached just now" in answer.text and 'href="#oidc"' in answer.text
        finally:
            services.close()
