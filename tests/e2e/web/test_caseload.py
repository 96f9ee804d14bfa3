"""A lead professional in a browser: signs in with an API token, sees My caseload (their
episodes, worst clock first, and the alerts addressed to them), acknowledges an alert, and
signs out; a form without this session's CSRF token is refused and records nothing. On an
SQLite file and on PostgreSQL, with axe-core on every page and a screenshot of each."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.e2e.web.conftest import Site, api_get, check_accessible, look, sign_in


def _alerts(site: Site) -> list[dict[str, object]]:
    found: list[dict[str, object]] = api_get(site.base, site.store.tokens["jo"], "/alerts")
    return found


def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(
    site: Site, page: Page
) -> None:
    page.goto(f"{site.base}/web/caseload")
    expect(page).to_have_url(re.compile(r"/web/sign-in\?next=/web/caseload$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    look(page, "sign-in", site.store.kind)
    page.get_by_label("API token").fill(site.store.tokens["jo"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{site.base}/web/caseload")


def test_a_token_that_does_not_check_out_is_named_in_the_error_summary(
    site: Site, page: Page
) -> None:
    page.goto(f"{site.base}/web/sign-in")
    page.get_by_label("API token").fill("ehqa_not-a-real-token")
    page.get_by_role("button", name="Sign in", exact=True).click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    link = summary.get_by_role("link", name=re.compile("That API token was not accepted"))
    expect(link).to_have_attribute("href", "#token")
    expect(page).to_have_title(re.compile("^Error: Sign in"))
    look(page, "sign-in-error", site.store.kind)
    link.click()
    expect(page.get_by_label("API token")).to_be_focused()


def test_my_caseload_lists_my_episodes_worst_clock_first_and_my_alerts(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["jo"])
    expect(page).to_have_url(f"{site.base}/web/caseload")  # Jo's one page: straight there
    expect(page.get_by_text("Signed in as")).to_contain_text("Jo Bright")
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="My caseload")
           ).to_have_attribute("aria-current", "page")  # fmt: skip
    episodes = page.get_by_role("table", name=re.compile("My open episodes"))
    rows = episodes.locator("tbody tr")
    # EH-W3's consent names only youth_service: Jo leads it but may not read it, so not here
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("EH-W1")
    expect(rows.nth(0)).to_contain_text("Overdue")
    expect(rows.nth(1)).to_contain_text("EH-W2")
    expect(rows.nth(1)).not_to_contain_text("Overdue")
    alerts = page.get_by_role("table", name=re.compile("Alerts for me"))
    expected = [a for a in _alerts(site) if a["episode"] == "EH-W1"]
    assert expected, "the sweep raised alerts for Jo's overdue episode"
    expect(alerts.locator("tbody tr")).to_have_count(len(_alerts(site)))
    expect(page.get_by_text("EH-W3")).to_have_count(0)
    look(page, "my-caseload", site.store.kind)


def test_a_lead_professional_acknowledges_an_alert_with_the_form(site: Site, page: Page) -> None:
    sign_in(page, site.base, site.store.tokens["jo"], "/web/caseload")
    waiting = [a for a in _alerts(site) if not a["acknowledged_on"]]
    assert waiting
    target = waiting[0]
    button = page.get_by_role("button", name=re.compile(
        f"Acknowledge the {str(target['clock']).replace('_', ' ')} alert on {target['episode']}"))  # fmt: skip
    button.first.click()
    expect(page).to_have_url(f"{site.base}/web/caseload")
    expect(page.get_by_role("status")).to_contain_text("Alert acknowledged")
    after = {a["id"]: a for a in _alerts(site)}
    assert after[target["id"]]["acknowledged_on"] == "2025-11-20"
    assert after[target["id"]]["acknowledged_by"] == "Jo Bright"
    look(page, "my-caseload-acknowledged", site.store.kind)


def test_a_form_without_the_sessions_csrf_token_is_refused_and_records_nothing(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["jo"], "/web/caseload")
    before = _alerts(site)
    episode_before = api_get(site.base, site.store.tokens["jo"], "/episodes/EH-W1")["version"]
    waiting = [a for a in before if not a["acknowledged_on"]]
    assert waiting
    form = page.locator(f"form[action='/web/alerts/{waiting[0]['id']}/ack']")
    for tamper in ("el => el.remove()", "el => { el.value = 'forged-elsewhere' }"):
        page.goto(f"{site.base}/web/caseload")
        form.locator("input[name=csrf_token]").evaluate(tamper)
        with page.expect_response(lambda r: "/ack" in r.url) as answer:
            form.get_by_role("button").click()
        assert answer.value.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("This form was not accepted")
        expect(page.locator("main")).to_contain_text("Nothing was recorded")
    look(page, "csrf-refused", site.store.kind)
    assert _alerts(site) == before
    assert (
        api_get(site.base, site.store.tokens["jo"], "/episodes/EH-W1")["version"] == episode_before
    )
    # posted with the session's cookie but an empty token: refused the same way
    answer = page.request.post(f"{site.base}/web/alerts/{waiting[0]['id']}/ack",
                               form={"csrf_token": ""}, max_redirects=0)  # fmt: skip
    assert answer.status == 403
    assert _alerts(site) == before


def test_an_episode_that_is_not_mine_to_see_is_a_not_found_page_as_in_the_api(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["lee"])
    mine = _alerts(site)
    lee = api_get(site.base, site.store.tokens["lee"], "/alerts")
    assert mine and not any(a["episode"] == "EH-W1" for a in lee)
    # Lee (youth_service, not in EH-W1's consent) acknowledging Jo's alert: the API's 404
    page.goto(f"{site.base}/web/caseload")
    look(page, "my-caseload-empty", site.store.kind)
    answer = page.request.post(f"{site.base}/web/alerts/{mine[0]['id']}/ack", form={
        "csrf_token": page.locator("input[name=csrf_token]").first.get_attribute("value") or ""})  # fmt: skip
    assert answer.status == 404
    assert "Page not found" in answer.text()
    page.goto(f"{site.base}/web/no-such-page")
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    look(page, "not-found", site.store.kind)


def test_signing_out_closes_the_pages(site: Site, page: Page) -> None:
    sign_in(page, site.base, site.store.tokens["coordinator"])
    expect(page.get_by_role("heading", level=1)).to_have_text("Your pages")
    look(page, "home-coordinator", site.store.kind)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{site.base}/web/sign-in")
    expect(page.get_by_role("status")).to_contain_text("You have signed out")
    look(page, "signed-out", site.store.kind)
    for path in ("/web/", "/web/caseload"):
        page.goto(f"{site.base}{path}")
        expect(page).to_have_url(re.compile(r"/web/sign-in\?next="))


def test_the_accessibility_check_fails_on_a_page_with_a_serious_violation(page: Page) -> None:
    """(The harness's own check, shown to catch what it is there to catch.)"""
    page.set_content('<html lang="en"><body><main><h1>Bad</h1><img src="x.png">'
                     '<button></button></main></body></html>')  # fmt: skip
    try:
        check_accessible(page)
    except AssertionError as refused:
        assert "image-alt (critical)" in str(refused) and "button-name" in str(refused)
    else:
        raise AssertionError("axe found nothing on a page with an image without alt text")


def test_the_keyboard_reaches_the_skip_link_first_and_it_moves_to_the_content(
    site: Site, page: Page
) -> None:
    sign_in(page, site.base, site.store.tokens["jo"], "/web/caseload")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()  # shown when focused
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")  # the first thing in the content: the first episode's link
    expect(page.get_by_role("link", name="EH-W1").first).to_be_focused()


def test_the_pages_work_under_their_own_content_security_policy(
    site: Site, browser: Browser
) -> None:
    """(The other tests let axe-core into the page by bypassing the policy; this one does not.)"""
    strict = browser.new_context()
    try:
        page = strict.new_page()
        refusals: list[str] = []
        page.on(
            "console",
            lambda m: refusals.append(m.text) if "Content Security Policy" in m.text else None,
        )
        sign_in(page, site.base, site.store.tokens["jo"], "/web/caseload")
        expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
        header = page.locator("header.header")
        assert header.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(11, 12, 12)"
        assert not refusals, refusals
    finally:
        strict.close()
