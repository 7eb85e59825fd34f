"""Every page of the dashboard with the survival sample study open (AppTest): each page of app.py's navigation
renders without an exception or an error box, in teaching mode, and says nothing in binary-outcome words that
would mislead about a time-to-event study: no odds ratio, log-odds, logistic model or "OR", and no bare "AUC"
where the page shows a C-index (a time-dependent AUC is named so, or written AUC(t=...)).

The survival sample is opened as a user does (Home's button), and the models are fitted by the first page that
needs them (the stage store then serves the others): marked slow.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.stats.outcomes import SurvivalOutcome
from tests.pages.apptest_helpers import APP

pytestmark = pytest.mark.slow  # fits the survival sample study's models (about 20 s), then draws 14 pages

ROOT = Path(APP).parent
# The navigation's pages, read from app.py itself so that a page added there is drawn here too.
PAGES = re.findall(r'st\.Page\("(pages/[a-z_]+\.py)"', (ROOT / "app.py").read_text(encoding="utf-8"))

# Words of a binary outcome's statistics (case-sensitive where the word is an abbreviation).
BINARY_WORDS = {
    "odds ratio": re.compile(r"odds[ -]ratio", re.IGNORECASE),
    "log-odds": re.compile(r"log[ -]odds", re.IGNORECASE),
    "odds": re.compile(r"(?<!log-)(?<!log )\bodds\b(?![ -]ratio)", re.IGNORECASE),
    "logistic": re.compile(r"logistic", re.IGNORECASE),
    "OR": re.compile(r"\bORs?\b"),
    "LM (the binary sample's event)": re.compile(r"\bLM\b"),
}
# "AUC" is a time-dependent AUC when the words say so ("time-dependent AUC") or it carries its horizon
# ("AUC(t=12 months)", "AUC(t)", a chart's hover "12 months: AUC 0.71"; the sample's time unit is months).
AUC = re.compile(r"\bAUCs?\b")
TIME_DEPENDENT_BEFORE = re.compile(r"(time-dependent|months:?)\s*$", re.IGNORECASE)
# ... or names both measures ("AUC or C-index": a setting of either outcome kind).
HORIZON_AFTER = re.compile(r"^\s*(\(t\b|or (the )?(C-index|Harrell's C))")
# A text that names the binary outcome speaks of it on purpose: Home's description of both outcome kinds, the
# notes that the guided tour and the Teaching page's truth use the binary sample study (liver metastasis).
ABOUT_THE_BINARY_STUDY = re.compile(r"binary|liver metastasis", re.IGNORECASE)
# Texts that use binary words about the binary sample's pipeline on purpose, beside a note naming it (page, start).
DELIBERATE = {
    # the what-if panel runs the binary sample's generator and pipeline; the info above it says so
    ("pages/teaching.py", "Draws a new synthetic cohort from the generator"),
    # the known truth: the generator's hidden phenotype, drawn for LM (synchronous or metachronous); ditto
    ("pages/teaching.py", "Each synthetic patient has a hidden imaging phenotype"),
    ("pages/teaching.py", "synchronous LM"),
    ("pages/teaching.py", "metachronous LM"),
}


@pytest.fixture(scope="module")
def app() -> AppTest:
    """The app with the survival sample study opened from Home, in teaching mode (every page's explanation)."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["teaching"] = True
    at.run()
    assert not at.exception, at.exception
    at.button(key="home_open_survival_sample").click().run()
    assert not at.exception, at.exception
    study = at.session_state["study"]
    assert isinstance(study.spec.outcome, SurvivalOutcome) and study.is_sample
    return at


def _strings(value, keys=("text", "name", "title", "hovertemplate")) -> list[str]:
    """The strings under ``keys`` anywhere in a plotly figure's JSON (titles, axis titles, trace names, notes)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_strings(item, keys))
    elif isinstance(value, list):
        for item in value:
            found.extend(_strings(item, keys))
    return found


def _table_headers(frame) -> list[str]:
    """The column headers a st.dataframe shows: each column's label (its column_config label if it has one)."""
    config = json.loads(frame.proto.columns) if frame.proto.columns else {}
    order = list(frame.proto.column_order)
    value = frame.value
    headers = []
    for column in [value.index.name, *value.columns]:
        if column is None:
            continue
        settings = config.get(str(column)) or {}
        if settings.get("hidden") or (order and str(column) not in order):
            continue
        headers.append(str(settings.get("label") or column))
    return headers


def shown_texts(at: AppTest) -> list[str]:
    """Every piece of text the page shows: headings, markdown, captions, alerts, metric and widget labels and
    options, table headers and the plotly charts' titles, axis titles and trace names."""
    texts = [e.value for group in (at.title, at.header, at.subheader, at.markdown, at.caption, at.info, at.warning,
                                   at.success, at.error, at.text) for e in group]
    texts += [f"{m.label}: {m.value}" for m in at.metric]
    for kind in ("button", "checkbox", "toggle", "number_input", "slider", "text_input", "text_area",
                 "date_input", "tabs", "expander"):
        texts += [str(getattr(e, "label", "")) for e in at.get(kind)]
    for widget in (*at.selectbox, *at.radio, *at.multiselect):
        texts += [str(widget.label), *map(str, widget.options)]
    for frame in at.dataframe:
        texts += _table_headers(frame)
    for chart in at.get("plotly_chart"):
        texts += _strings(json.loads(chart.proto.spec))
    return [t for t in texts if t]


def misleading_words(page: str, texts: list[str]) -> list[str]:
    """The binary-outcome words in ``texts`` (with their context), leaving out texts about the binary study."""
    found = []
    for text in texts:
        if ABOUT_THE_BINARY_STUDY.search(text) or any(page == p and text.startswith(s) for p, s in DELIBERATE):
            continue
        for name, pattern in BINARY_WORDS.items():
            found += [f"{name}: ...{text[max(0, m.start() - 60):m.end() + 60]}..." for m in pattern.finditer(text)]
        for m in AUC.finditer(text):
            if not (TIME_DEPENDENT_BEFORE.search(text[:m.start()]) or HORIZON_AFTER.match(text[m.end():])):
                found.append(f"bare AUC: ...{text[max(0, m.start() - 60):m.end() + 60]}...")
    return found


def test_the_navigation_lists_every_page_file():
    assert sorted(PAGES) == sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py"))


def test_the_word_check_finds_binary_words():
    """The check itself: it flags the binary words and a bare AUC, and passes the survival wording."""
    assert misleading_words("pages/models.py", ["Odds ratio (95% CI)", "log-odds of death", "OR", "Test AUC 0.81"]) \
        == ["odds ratio: ...Odds ratio (95% CI)...", "log-odds: ...log-odds of death...", "OR: ...OR...",
            "bare AUC: ...Test AUC 0.81..."]
    assert misleading_words("pages/models.py", ["the time-dependent AUC at 36 months", "AUC(t=12 months)",
                                                "Training<br>%{customdata:g} months: AUC %{y:.3f}",
                                                "Harrell's C (HR per SD)", "Cox regression or a table"]) == []


@pytest.mark.parametrize("page", PAGES)
def test_the_page_renders_for_the_survival_sample_in_survival_words(app, page):
    at = app
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["study"].spec.outcome.kind == "survival"  # no page swapped the study
    assert at.info, f"{page} shows no teaching explanation"  # teaching mode is on: its words are checked too
    texts = shown_texts(at)
    assert texts, f"{page} shows nothing"
    found = misleading_words(page, texts)
    assert not found, "\n".join(found)
