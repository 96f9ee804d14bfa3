"""Page sign-in through the council's OIDC provider: authorization code with PKCE, against a
provider the test starts on 127.0.0.1 (oidc-provider-mock, an Authlib-based provider).

The provider is wrapped so that PKCE is checked as a council's provider checks it: the code
it issues is bound to the authorization request's S256 challenge, and the token request must
carry the verifier that hashes to it, or it is refused (invalid_grant). The person it names
maps to the same subject as a bearer JWT of the same issuer (`iss#sub`), so My caseload shows
the episode led by that subject."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import werkzeug.serving
from oidc_provider_mock import User
from oidc_provider_mock import app as provider_app
from playwright.sync_api import Page, expect

from ehqa.clock import fixed
from ehqa.commands import parse_line
from ehqa.services import Services
from tests.e2e.web.conftest import TODAY, Site, Store, look, serving

# (the provider's Authlib grants use an API that Authlib has deprecated: its warnings, not ours)
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning",
                                        "ignore::DeprecationWarning:authlib.*")  # fmt: skip

PROVIDER_PORTS = range(8690, 8695)
USERS = [
    User(sub="u-42", claims={"name": "Sam Reed", "ehqa_role": "lead_professional",
                             "ehqa_agency": "primary_school"}),
    User(sub="u-7", claims={"name": "Visitor"}),  # known to the council, not to ehqa
]  # fmt: skip

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
Wsgi = Callable[[Environ, StartResponse], Iterable[bytes]]


@dataclass
class Pkce:
    """The provider's PKCE check: each code bound to its request's challenge."""

    app: Wsgi
    challenges: dict[str, tuple[str, str]] = field(default_factory=dict)  # state -> challenge
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> challenge
    checked: list[str] = field(default_factory=list)  # verifiers that matched
    refused: list[str] = field(default_factory=list)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ["PATH_INFO"]
        if path == "/oauth2/authorize" and environ["REQUEST_METHOD"] == "GET":
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            self.challenges[query.get("state", "")] = (
                query.get("code_challenge", ""), query.get("code_challenge_method", ""))  # fmt: skip
        if path == "/oauth2/authorize" and environ["REQUEST_METHOD"] == "POST":
            return self.app(environ, self._binding(start_response))
        if path == "/oauth2/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            why = self._verify(form.get("code", ""), form.get("code_verifier", ""))
            if why:
                self.refused.append(why)
                answer = json.dumps({"error": "invalid_grant", "error_description": why}).encode()
                start_response("400 Bad Request", [("Content-Type", "application/json")])
                return [answer]
        return self.app(environ, start_response)

    def _binding(self, start_response: StartResponse) -> StartResponse:
        def bind(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            for name, value in headers:
                if name.lower() == "location":
                    query = {k: v[0] for k, v in parse_qs(urlsplit(value).query).items()}
                    if "code" in query:
                        self.codes[query["code"]] = self.challenges.get(query.get("state", ""),
                                                                        ("", ""))  # fmt: skip
            return start_response(status, headers, *rest)

        return bind

    def _verify(self, code: str, verifier: str) -> str | None:
        challenge, method = self.codes.pop(code, ("", ""))
        if method != "S256" or not challenge:
            return "the authorization request had no S256 code challenge"
        if not verifier:
            return "the token request has no code_verifier"
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
            return "the code_verifier does not match the code challenge"
        self.checked.append(verifier)
        return None


@dataclass(frozen=True)
class Provider:
    issuer: str
    pkce: Pkce


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    pkce = Pkce(provider_app(user_claims=USERS, require_nonce=True))
    for port in PROVIDER_PORTS:
        try:
            server = werkzeug.serving.make_server("127.0.0.1", port, pkce, threaded=True)
        except (OSError, SystemExit):  # (werkzeug exits on a port in use: another worker's)
            continue
        thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
        thread.start()
        try:
            yield Provider(f"http://127.0.0.1:{port}", pkce)
        finally:
            server.shutdown()
            thread.join(10)
            server.server_close()
        return
    raise AssertionError(f"no port of {PROVIDER_PORTS} was free for the OIDC provider")


@pytest.fixture(scope="module")
def oidc_site(
    store: Store, provider: Provider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """The store, with an episode led by the provider's u-42 (by subject, as the API's bearer
    JWTs name people: issuer#sub), served with page sign-in through the provider."""
    services = Services(store.url, clock=fixed(TODAY))
    try:
        lead = {
            "name": "Sam Reed",
            "agency": "primary_school",
            "subject": f"{provider.issuer}#u-42",
        }
        for line in ({"cmd": "open", "episode": "EH-O1", "on": "2025-10-01", "child": "C-O1", "lead": lead},
                     {"cmd": "record_consent", "episode": "EH-O1", "on": "2025-10-02", "agencies": ["primary_school"]}):  # fmt: skip
            parse_line(json.dumps(line)).apply(services.app, by="system:web-tests")
    finally:
        services.close()
    env = {"EHQA_OIDC_CLIENT_ID": "ehqa-pages", "EHQA_OIDC_CLIENT_SECRET": "pages-secret",
           "EHQA_OIDC_METADATA_URL": f"{provider.issuer}/.well-known/openid-configuration"}  # fmt: skip
    with serving(store.url, tmp_path_factory.mktemp("oidc"), env) as base:
        yield Site(base, store)


def _start(page: Page, site: Site) -> None:
    page.goto(f"{site.base}/web/caseload")
    look(page, "sign-in-with-council", site.store.kind)
    page.get_by_role("link", name="Sign in with your council account").click()
    expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:869\d/oauth2/authorize\?"))
    query = parse_qs(urlsplit(page.url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["nonce"] and query["state"] and query["client_id"] == ["ehqa-pages"]


def test_signing_in_through_the_councils_provider_with_pkce(oidc_site: Site, provider: Provider,
                                                             page: Page) -> None:  # fmt: skip
    checked = len(provider.pkce.checked)
    _start(page, oidc_site)
    page.get_by_role("button", name="u-42").click()  # the provider's own sign-in page
    expect(page).to_have_url(f"{oidc_site.base}/web/caseload")  # back where the person was going
    assert len(provider.pkce.checked) == checked + 1 and not provider.pkce.refused
    expect(page.get_by_text("Signed in as")).to_contain_text("Sam Reed")
    expect(page.get_by_text("Signed in as")).to_contain_text("lead professional, primary_school")
    rows = page.get_by_role("table", name=re.compile("My open episodes")).locator("tbody tr")
    expect(rows).to_have_count(1)  # u-42's episode, found by the subject issuer#u-42
    expect(rows.first).to_contain_text("EH-O1")
    look(page, "my-caseload-oidc", oidc_site.store.kind)
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{oidc_site.base}/web/caseload")
    expect(page).to_have_url(re.compile(r"/web/sign-in\?next="))


def test_a_person_the_provider_knows_without_an_ehqa_role_is_not_signed_in(
    oidc_site: Site, page: Page
) -> None:
    _start(page, oidc_site)
    page.get_by_role("button", name="u-7").click()
    expect(page).to_have_url(re.compile(r"/web/sign-in/oidc/callback\?"))
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("not as a user of this service")
    expect(summary).to_contain_text("ehqa_role")
    look(page, "sign-in-oidc-refused", oidc_site.store.kind)
    page.goto(f"{oidc_site.base}/web/caseload")
    expect(page).to_have_url(re.compile(r"/web/sign-in\?next="))


def test_a_code_replayed_without_the_sessions_state_signs_nobody_in(oidc_site: Site,
                                                                    page: Page) -> None:  # fmt: skip
    """The callback reached with a state this browser's session never sent (a forged or
    replayed link): refused, nobody signed in."""
    page.goto(f"{oidc_site.base}/web/sign-in/oidc/callback?code=stolen&state=forged")
    expect(page.get_by_role("alert")).to_contain_text("The council's sign-in did not complete")
    page.goto(f"{oidc_site.base}/web/caseload")
    expect(page).to_have_url(re.compile(r"/web/sign-in\?next="))


def test_the_providers_pkce_check_refuses_a_missing_or_wrong_verifier() -> None:
    """(The wrapper's own check, shown to refuse what a council's provider refuses.)"""
    pkce = Pkce(lambda environ, start: [b""])
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    for code in ("c1", "c2", "c3", "c4"):
        pkce.codes[code] = (challenge.rstrip(b"=").decode(), "S256")
    pkce.codes["plain"] = (verifier, "plain")
    assert pkce._verify("c1", "") == "the token request has no code_verifier"
    assert pkce._verify("c2", "w" * 50) == "the code_verifier does not match the code challenge"
    assert pkce._verify("plain", verifier) == "the authorization request had no S256 code challenge"
    assert pkce._verify("c3", verifier) is None
    assert pkce._verify("c3", verifier) is not None  # a code is exchanged once
