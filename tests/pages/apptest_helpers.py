"""Opening the app on a page for AppTest (shared by the page tests)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str | None = None, *, timeout: float = 90) -> AppTest:
    """Run app.py (the sample study opens) and switch to ``page`` (e.g. "pages/cohort.py"); no exception allowed."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.run()
    assert not at.exception
    if page is not None:
        at.switch_page(page).run()
        assert not at.exception
    return at


def dataframe_with(at: AppTest, *columns: str, index: str | None = None):
    """The value of the first st.dataframe on the page that has all ``columns`` (and ``index`` in its index).

    AppTest does not look dataframes up by key, so tests find them by what they hold.
    """
    for frame in at.dataframe:
        value = frame.value
        if set(columns) <= set(value.columns) and (index is None or index in value.index):
            return value
    raise AssertionError(f"no dataframe with columns {columns} on the page")


def open_study_page(study, page: str, *, timeout: float = 300) -> AppTest:
    """Run app.py with ``study`` as the open study and switch to ``page``; no exception allowed."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["study"] = study
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def page_texts(at: AppTest) -> str:
    """Every info, caption, markdown, warning and success text on the page, joined (to look for a sentence)."""
    return " ".join(e.value for group in (at.info, at.caption, at.markdown, at.warning, at.success) for e in group)




def calculator_data(at: AppTest, key: str) -> dict:
    """What the page sent its browser calculator (``ui.nomogram_calculator``'s data: model, drawing, inputs,
    revision, fixed, persist). AppTest does not run the component's JavaScript; the browser tests do."""
    import json

    for element in at.get("bidi_component"):
        if element.key == key:
            return json.loads(element.proto.json)
    raise AssertionError(f"no calculator keyed {key!r} on the page")
