"""Columns that must never be features, on the pages: the Cohort page's leak list excludes a flagged column in one
click (a clinical variable leaves the roles too) and names identifier-like columns; the Selection page edits the
exclusions by name or pattern, shows what they match and says loudly what restates the outcome."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.stats.cohort import CohortSpec, SplitConfig
from core.stats.feature_tables import IDENTIFIER_LIKE
from core.workflows.fit import prepare_tables
from core.workflows.study import FeatureFamily, make_study
from tests.core.test_never_features import OPEN_SCREENING, _everything, _study
from tests.pages.apptest_helpers import APP, open_study_page, page_texts


_run = open_study_page


_texts = page_texts


@pytest.mark.slow
def test_the_leak_list_excludes_a_clinical_column_in_one_click_and_names_identifiers():
    table = _everything()
    # a follow-up status declared as a clinical variable: it restates the outcome
    table["status"] = table["event"].map({0: "alive, no LM", 1: "LM at follow-up"})
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=("age",), categorical=("sex", "status"))
    study = make_study("leaky", table[["pid", "event", "age", "sex", "status", "scan_hash"]], spec,
                       SplitConfig(test_size=0.3, seed=1), settings=OPEN_SCREENING)
    at = _run(study, "pages/cohort.py")
    assert any("Possible leak" in w.value and "status (clinical variable)" in w.value for w in at.warning)
    # the hash per scan is an identifier, not an outcome descriptor, and gets no exclude button of its own
    assert f"scan_hash: {IDENTIFIER_LIKE}" in _texts(at)
    assert not any(b.label == "Exclude scan_hash" for b in at.button)
    button = next(b for b in at.button if b.label == "Exclude status")
    button.click().run()
    assert not at.exception
    after = at.session_state["study"]
    assert after.settings.excluded_features == ("status",)
    assert "status" not in after.spec.variables and "status" in after.cohort.columns
    assert not any("Possible leak" in w.value for w in at.warning)
    assert "Never used as features (Selection page to edit): status." in _texts(at)


@pytest.mark.slow
def test_the_sample_study_excludes_lm_type_from_the_leak_list():
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/cohort.py").run()
    assert any("lm_type (1.00)" in c.value for c in at.caption)
    next(b for b in at.button if b.label == "Exclude lm_type").click().run()
    assert not at.exception
    assert at.session_state["study"].settings.excluded_features == ("lm_type",)
    assert "Already kept out of the features: lm_type (excluded)." in _texts(at)


@pytest.mark.slow
def test_the_selection_page_edits_exclusions_and_flags_what_restates_the_outcome():
    at = _run(_study(), "pages/selection.py")
    assert not at.error, [e.value for e in at.error]
    # the feature table still holds the outcome and a perfect ordering of it: left out, said loudly
    assert any("restate the outcome" in w.value and "leak (orders the outcome perfectly" in w.value
               for w in at.warning)
    left_out = next(f.value for f in at.dataframe if {"family", "column", "reason"} <= set(f.value.columns))
    assert set(left_out["column"]) == {"event", "age", "leak", "lm_type"}
    at.text_input(key="sel_exclude").set_value("original_f1*, typo_*").run()
    assert not at.exception and not at.error
    assert at.session_state["study"].settings.excluded_features == ("original_f1*", "typo_*")
    captions = _texts(at)
    assert "original_f1* -> 11 in Radiomics" in captions and "typo_* matches nothing" in captions
    left_out = next(f.value for f in at.dataframe if {"family", "column", "reason"} <= set(f.value.columns))
    assert "original_f12" in set(left_out["column"])
    selected = [f.value for f in at.dataframe if "coef (original scale)" in f.value.columns]
    if selected:
        assert not any(str(i).startswith("original_f1") for i in selected[0].index)


@pytest.mark.slow
def test_the_cohort_table_itself_becomes_a_feature_family_without_its_roles(workspace):
    table = _everything()
    study = make_study("one table", table, CohortSpec(id_column="pid", outcome_column="event", continuous=("age",),
                                                      categorical=("sex",)),
                       SplitConfig(test_size=0.3, seed=1), settings=OPEN_SCREENING)
    at = _run(study, "pages/features_radiomics.py")
    at.text_input(key="fr_exclude").set_value("lm_type").run()
    at.button(key="fr_import_cohort").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    family = at.session_state["study"].family("radiomics")
    assert not {"event", "age", "sex", "lm_type", "pid", "scan_hash"} & set(family.table.columns)
    assert "original_f0" in family.table.columns
    dropped = next(f.value for f in at.dataframe if list(f.value.columns) == ["column", "reason"])
    reasons = dict(zip(dropped["column"], dropped["reason"], strict=True))
    assert reasons["event"] == "outcome column" and reasons["age"] == "clinical variable"
    assert reasons["lm_type"] == "excluded ('lm_type')"
    assert any("must never be features left out (outcome column): event" in m.value for m in at.info)


@pytest.mark.slow
def test_the_leak_list_names_features_already_kept_out_and_excludes_a_strong_one_in_one_click():
    study = _study()
    table = study.family("radiomics").table
    rng = np.random.default_rng(5)
    # nearly the outcome (AUC above 0.95, not perfect: 6 patients swapped): a feature that stays until excluded
    near = study.outcome.reindex(table.index).to_numpy() * 3.0 + rng.random(len(table))
    swap = table.index.get_indexer(study.train_ids[:6])  # training patients: the leak check looks at them
    near[swap] = 3.0 - near[swap]
    study = study.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=table.assign(near=near)))
    at = _run(study, "pages/cohort.py")
    assert "Already kept out of the features: " in _texts(at) and "leak (orders the outcome perfectly" in _texts(at)
    assert any("near (Radiomics)" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Exclude near").click().run()
    assert not at.exception
    after = at.session_state["study"]
    assert after.settings.excluded_features == ("near",)
    assert "near" not in prepare_tables(after).tables["radiomics"].columns
