"""Two real browsers against one dashboard (issue 24, trust-ui): each keeps its space in a cookie (never in the
address), finds its saved study when it opens the app again, and cannot replace a study the other one shared.

Uses the harness of test_browser_e2e.py (Debian's chromium driven by Python playwright; skipped where missing).
"""

from __future__ import annotations

import re

import pytest

from tests.pages.test_browser_e2e import _no_errors, _settle, server  # noqa: F401 - server is a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SHARE = "Share the open study with everyone on this server"
UNEXPECTED = "Something went wrong"


@pytest.fixture(scope="module")
def browser(chromium):
    return chromium


def _open(context, url: str):
    page = context.new_page()
    page.set_default_timeout(180_000)
    page.console_errors = []  # the cookie script must run without a console error
    page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
    page.goto(url)
    page.get_by_role("heading", name="RadNomo").first.wait_for()
    _settle(page, 1.5)
    page.get_by_text("1001 patients").first.wait_for()
    return page


def _click(page, name: str) -> None:
    button = page.get_by_role("button", name=name)
    button.scroll_into_view_if_needed()
    button.click()
    _settle(page, 1.0)


def _saved_choice(page) -> str:
    """What the Home page's "Saved study" box shows ("" when the page has no saved study to offer)."""
    box = page.locator(".st-key-home_saved_choice")
    if box.count() == 0:
        return ""
    return box.first.evaluate("e => e.innerText + ' ' + Array.from(e.querySelectorAll('input'))"
                              ".map(i => i.value + ' ' + (i.getAttribute('aria-label') || '')).join(' ')")


def _space_cookie(context) -> dict:
    cookies = [c for c in context.cookies() if c["name"] == "radnomo_space"]
    assert len(cookies) == 1, context.cookies()
    return cookies[0]


def test_two_users_share_one_name_and_a_reopened_app_finds_its_studies(server, browser):  # noqa: F811
    alice, bob = browser.new_context(), browser.new_context()
    try:
        first = _open(alice, server)
        cookie = _space_cookie(alice)
        assert re.fullmatch(r"[0-9a-f]{32}", cookie["value"]) and cookie["sameSite"] == "Strict"
        assert "space=" not in first.url

        # Alice saves, then opens the app again in a new tab of the same browser: her study is listed.
        _click(first, "Save the open study")
        first.get_by_text("Saved to").first.wait_for()
        again = _open(alice, server)
        choice = _saved_choice(again)
        assert re.search(r"Sample study \(synthetic\) \(1001 patients, saved", choice), choice
        _no_errors(again)

        # Alice shares; Bob, in another browser, shares a study of the same name: refused, Alice's stays.
        _click(first, SHARE)
        shared = first.get_by_text(re.compile(r"Shared as sample-study-synthetic by anonymous [0-9a-f]{12}"))
        shared.first.wait_for()
        owner = re.search(r"anonymous [0-9a-f]{12}", shared.first.inner_text()).group(0)
        second = _open(bob, server)
        assert _space_cookie(bob)["value"] != cookie["value"]
        _click(second, SHARE)
        second.get_by_text(f"already shared by {owner}").first.wait_for()
        assert second.get_by_text(UNEXPECTED).count() == 0
        assert second.get_by_text("Shared as").count() == 0
        # Bob's list names Alice as the one who shared it, and he has no saved study of his own.
        second.get_by_text(owner).first.wait_for()
        assert "1001 patients, saved" not in _saved_choice(second)

        # An old link with Alice's token in the address hands nothing over: Bob still sees only his own space,
        # and the token is dropped from the address.
        leaked = _open(bob, f"{server}/?space={cookie['value']}")
        leaked.wait_for_function("() => !window.location.search.includes('space=')", timeout=30_000)
        assert "1001 patients, saved" not in _saved_choice(leaked)
        assert _space_cookie(bob)["value"] != cookie["value"]
        for page in (first, again, second, leaked):
            assert page.get_by_text(UNEXPECTED).count() == 0
            assert page.console_errors == [], page.console_errors[:5]
    finally:
        alice.close()
        bob.close()
