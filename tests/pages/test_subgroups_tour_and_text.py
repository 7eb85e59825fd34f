"""Subgroups on test patients, the guided tour from its stored numbers, families' labels on the feature pages,
and no raw Python value (a dict, a list, a bare None) in any page's text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page

APP = Path(__file__).resolve().parents[2] / "app.py"
PAGES = re.findall(r'st\.Page\("(pages/[a-z_]+\.py)"', APP.read_text())
# A dict or list repr, or None standing alone (not inside a word such as "Nonetheless").
RAW = re.compile(r"\{'|\['|\bNone\b")


def _texts(at) -> list[str]:
    """Every sentence AppTest can read on the page (titles, markdown, captions, alerts, metrics)."""
    texts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "success", "error",
                 "text"):
        texts += [str(element.value) for element in getattr(at, kind)]
    texts += [f"{m.label} {m.value}" for m in at.metric]
    # What a choice shows (its format_func's words): a missing entry would read "None".
    for kind in ("selectbox", "radio", "multiselect"):
        texts += [" | ".join(map(str, widget.options)) for widget in getattr(at, kind)]
    return texts


def test_subgroups_on_test_patients_use_the_training_cut_offs():
    at = open_page("pages/subgroups.py", timeout=600)
    assert not at.error, [e.value for e in at.error]
    every = dataframe_with(at, "score", "AUC")
    at.radio(key="sub_patients").set_value("test").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    test = dataframe_with(at, "score", "AUC")
    assert len(test) == len(every) and not test.equals(every)  # other patients, so other numbers
    caption = " ".join(c.value for c in at.caption)
    # The caption speaks of the chosen column and levels, and of where the cut-offs come from.
    assert "Lm type: positive = synchronous, compared with metachronous" in caption
    assert "training patients compared and applied unchanged here" in caption
    markdown = " ".join(m.value for m in at.markdown)
    assert "synchronous" in markdown and "metachronous" in markdown


def test_the_subgroups_caption_follows_another_column():
    at = open_page("pages/subgroups.py", timeout=600)
    at.radio(key="sub_population").set_value("all").run()
    at.selectbox(key="sub_column").set_value("sex").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    levels = at.selectbox(key="sub_positive").value, at.selectbox(key="sub_negative").value
    caption = next(c.value for c in at.caption if "positive =" in c.value)  # Table 3's, under it
    assert f"Sex: positive = {levels[0]}, compared with {levels[1]}, among all patients" in caption
    assert "metachronous" not in caption and "synchronous" not in caption


def test_the_tour_shows_its_stored_numbers_without_fitting(monkeypatch):
    import ui
    import core.workflows.tour as tour_module
    from core.workflows.sample import sample_study

    tour = tour_module.tour_study(sample_study())
    stored = tour_module.load_tour(tour)
    assert stored is not None, "sample_data/fitted/tour.json.gz is stale: re-run python -m core.cli.sample_fit"

    def no_fit(*args, **kwargs):
        raise AssertionError("the guided tour fitted its models instead of reading the stored numbers")

    monkeypatch.setattr(tour_module, "compute_tour", no_fit)
    ui._results.clear()  # another test of this process may have filled the store
    ui._store.clear()
    at = open_page("pages/walkthrough.py", timeout=600)
    assert not at.exception and not at.error, [e.value for e in at.error]
    for _ in range(3):
        at.button(key="walk_next").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    test = stored.performance[stored.performance["cohort"] == "test"].set_index("model")
    markdown = " ".join(m.value for m in at.markdown)
    assert f"DL-radiomics score {test.loc['dl_radiomics', 'auc']:.3f}" in markdown, markdown


def _import(at, name: str, label: str = ""):
    """Import the first 30 sample radiomics features of 40 patients as the family ``name`` (label ``label``)."""
    table = at.session_state["study"].family("radiomics").table.iloc[:40, :30].rename_axis("ID").reset_index()
    at.text_input(key="fr_family_name").input(name).run()
    at.text_input(key="fr_family_label").input(label).run()
    at.file_uploader(key="fr_import_upload").set_value(("export.csv", table.to_csv(index=False).encode(),
                                                         "text/csv")).run()
    return at.button(key="fr_import").click().run()


@pytest.mark.slow
def test_a_renamed_family_gets_its_own_label_and_never_anothers(workspace):
    at = open_page("pages/features_radiomics.py", timeout=600)
    at.text_input(key="fr_family_name").input("arterial_phase").run()
    assert at.text_input(key="fr_family_label").placeholder == "Arterial phase"
    at = _import(at, "arterial_phase")  # no label given: it follows the name, not the radiomics family's
    assert not at.exception and not at.error, [e.value for e in at.error]
    study = at.session_state["study"]
    assert study.family("arterial_phase").label == "Arterial phase" and study.family("radiomics").label == "Radiomics"
    at = _import(at, "venous", "Radiomics")  # another family's label: refused, in words
    assert not at.exception
    assert any("share the label 'Radiomics'; give each family its own label" in e.value for e in at.error)
    assert "venous" not in at.session_state["study"].family_names
    deep = open_page("pages/features_deep.py", timeout=600)
    deep.text_input(key="ae_family_name").input("portal").run()
    assert deep.text_input(key="ae_family_label").placeholder == "Portal"


@pytest.mark.slow
def test_an_extraction_says_its_counts_in_words_and_a_stopped_one_says_what_was_kept(workspace):
    at = open_page("pages/features_radiomics.py", timeout=600)
    at.selectbox(key="fr_params").set_value("Original image only (107 features, ~1 s a case)").run()
    at.text_input(key="fr_family_name").input("quick").run()
    at.number_input(key="fr_max_cases").set_value(1).run()
    at.button(key="fr_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    success = at.success[0].value
    assert "1 cases × 107 features into 'quick' (1 extracted)" in success and not RAW.search(success), success
    # A run that Stop interrupted leaves its record (AppTest cannot click during a run: the record is set here).
    at.session_state["fr_running"] = {"done": 3, "total": 10, "family": "quick"}
    at.run()
    warning = " ".join(w.value for w in at.warning)
    assert "Extraction stopped after 3 of 10 cases" in warning and "kept in this workspace's feature store" in warning
    at.run()  # said once
    assert not any("Extraction stopped" in w.value for w in at.warning)


def test_a_stopped_training_keeps_and_shows_its_loss_curve(workspace):
    at = open_page("pages/features_deep.py", timeout=600)
    losses = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2, 3)]
    at.session_state["ae_running"] = {"crops": "40 of 40", "epochs": 30, "losses": losses}
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    warning = " ".join(w.value for w in at.warning)
    assert "Training stopped after epoch 3 of 30" in warning and "No weights were saved" in warning
    assert at.get("plotly_chart")


@pytest.mark.slow
def test_training_inputs_beyond_the_cases_at_hand_say_what_is_used(workspace):
    at = open_page("pages/features_deep.py", timeout=600)
    manifest = at.session_state["ae_manifest"][2]
    in_training = int(manifest["ID"].isin(set(at.session_state["study"].train_ids)).sum())
    at.number_input(key="ae_max_cases").set_value(in_training + 500).run()
    captions = " ".join(c.value for c in at.caption)
    assert f"The manifest holds {in_training} training cases: all {in_training} are used, not {in_training + 500}." \
        in captions
    at.number_input(key="ae_max_cases").set_value(6).run()
    at.number_input(key="ae_batch").set_value(16).run()
    assert any("A batch of 16 is more than the 6 training cases" in c.value for c in at.caption)
    # Every number box has its range, which the browser enforces with "Number is above the allowed range".
    assert all(box.min is not None and box.max is not None for box in at.number_input)
    assert (at.number_input(key="ae_epochs").min, at.number_input(key="ae_epochs").max) == (1, 500)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_page_shows_a_raw_python_value(page):
    at = open_page(page, timeout=600)
    assert not at.exception
    raw = [text for text in _texts(at) if RAW.search(text)]
    assert not raw, raw
