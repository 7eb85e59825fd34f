"""A workspace that is not a URL, stale spaces removed, shared studies with an owner, background fits per session
(issue 24, trust-ui), through the app itself (AppTest) and ui.py's helpers."""

from __future__ import annotations

import os
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

import ui
from core.io import spaces
from core.io.spaces import SPACE_COOKIE, SPACES_FOLDER, new_space_token
from tests.pages.apptest_helpers import APP, open_page


def _browser(monkeypatch, token: str | None) -> None:
    """Make the sessions that follow connect as a browser holding ``token`` in its cookie (None: no cookie).

    AppTest has no browser to send cookies, so the one place ui.py reads them is replaced."""
    monkeypatch.setattr(ui, "_browser_cookies", lambda: {} if token is None else {SPACE_COOKIE: token})


def _cookie_script(at) -> str:
    scripts = [element.proto.body for element in at.get("html") if SPACE_COOKIE in element.proto.body]
    assert len(scripts) == 1, scripts
    return scripts[0]


@pytest.mark.slow
def test_the_space_comes_from_the_cookie_and_a_url_token_is_ignored_and_dropped(workspace, monkeypatch):
    mine, leaked = new_space_token(), new_space_token()
    _browser(monkeypatch, mine)
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["space"] = leaked  # an old shared link
    at.run()
    assert not at.exception
    assert "space" not in at.query_params  # removed from the address, so it is not copied on
    assert at.session_state[ui.SPACE_KEY] == mine
    script = _cookie_script(at)
    assert mine in script and leaked not in script and "SameSite=Strict" in script
    at.button(key="home_save").click().run()
    assert not at.exception and "Saved to" in at.success[0].value
    spaces = workspace / SPACES_FOLDER
    assert sorted(p.name for p in spaces.iterdir()) == [f"session-{mine}"]
    assert any((spaces / f"session-{mine}" / "studies").iterdir())

    # The same browser opens the app again (a new session, the cookie sent again): the saved study is there.
    again = open_page(timeout=120)
    options = again.selectbox(key="home_saved_choice").options
    assert len(options) == 1 and "Sample study" in options[0]

    # Another browser (no cookie) gets a space of its own, stored in its cookie, and sees none of those studies.
    _browser(monkeypatch, None)
    other = open_page(timeout=120)
    token = other.session_state[ui.SPACE_KEY]
    assert token not in (mine, leaked) and token in _cookie_script(other)
    assert not any(element.key == "home_saved_choice" for element in other.selectbox)


@pytest.mark.slow
def test_a_signed_in_user_gets_their_own_space_and_no_cookie(workspace, monkeypatch):
    _browser(monkeypatch, new_space_token())
    monkeypatch.setattr(ui, "_logged_in_user", lambda: "alice-sub")
    at = open_page(timeout=120)
    assert not [element for element in at.get("html") if SPACE_COOKIE in element.proto.body]
    from core.io.spaces import space_folder_name

    at.button(key="home_save").click().run()
    assert not at.exception
    assert [p.name for p in (workspace / SPACES_FOLDER).iterdir()] == [space_folder_name(user="alice-sub")]


def test_stale_spaces_are_removed_once_a_day_in_the_background(workspace, monkeypatch):
    stale, fresh = (workspace / SPACES_FOLDER / f"session-{new_space_token()}" for _ in range(2))
    for folder in (stale, fresh):
        (folder / "studies").mkdir(parents=True)
    long_ago = time.time() - 40 * 86400
    os.utime(stale, (long_ago, long_ago))
    monkeypatch.setitem(spaces._CLEANUP, "last", None)  # as at a server's first run

    def run_once() -> None:
        before = {t for t in threading.enumerate() if t.name == "space-clean-up"}
        spaces.clean_up_spaces_daily(workspace)
        for thread in {t for t in threading.enumerate() if t.name == "space-clean-up"} - before:
            thread.join(10)

    run_once()
    assert not stale.exists() and fresh.exists()
    os.utime(fresh, (long_ago, long_ago))
    run_once()  # within the day: not again
    assert fresh.exists()
    monkeypatch.setitem(spaces._CLEANUP, "last", time.monotonic() - spaces.CLEANUP_INTERVAL_S - 1)
    run_once()
    assert not fresh.exists()


@pytest.mark.slow
def test_sharing_a_name_another_user_shared_is_refused_on_the_home_page(workspace, monkeypatch):
    _browser(monkeypatch, new_space_token())
    first = open_page(timeout=120)
    first.button(key="home_share").click().run()
    assert not first.exception and "Shared as sample-study-synthetic by anonymous" in first.success[0].value
    shared = workspace / "shared" / "studies" / "sample-study-synthetic"
    saved = (shared / "study.json").read_bytes()

    _browser(monkeypatch, new_space_token())  # a second user, same study name
    second = open_page(timeout=120)
    second.button(key="home_share").click().run()
    assert not second.exception
    assert "already shared by anonymous" in second.error[0].value
    assert (shared / "study.json").read_bytes() == saved  # the first user's study is untouched
    table = second.dataframe[0].value
    assert table["Shared by"].tolist() == [first.success[0].value.split(" by ")[1].rstrip(".")]
    first.button(key="home_share").click().run()  # the owner may share again (replace their own)
    assert not first.exception and first.success


