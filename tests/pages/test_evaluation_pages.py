"""AppTest of the Evaluation, Nomogram and Subgroups pages on the sample study."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import calculator_data, dataframe_with, open_page


@pytest.fixture(scope="module")
def evaluation():
    return open_page("pages/evaluation.py", timeout=300)


def test_evaluation_shows_every_model_and_links_the_threshold_explorer(evaluation):
    at = evaluation
    assert not at.error
    table2 = dataframe_with(at, "cohort", "AUC", "cut-off")
    assert len(table2) == 10 and set(table2["cohort"]) == {"train", "test"}
    assert {"AUC", "ACC", "SENS", "SPEC", "PPV", "NPV"} <= set(table2.columns)
    before = dataframe_with(at, "estimate", "low", "n")
    _cutoff_slider(at, "fused").set_value(0.9).run()
    assert not at.exception
    after = dataframe_with(at, "estimate", "low", "n")
    assert after.loc["SENS", "estimate"] < before.loc["SENS", "estimate"]  # a stricter cut-off
    assert after.loc["SPEC", "estimate"] >= before.loc["SPEC", "estimate"]
    delong = dataframe_with(at, "model_a", "model_b", "difference")
    assert len(delong) == 10  # 5 models, every pair


def _cutoff_slider(at, model: str):
    return next(s for s in at.slider if s.key.startswith(f"ev_cutoff_{model}_"))


@pytest.mark.slow
def test_evaluation_cutoff_rules_and_holm(evaluation):
    at = evaluation
    at.radio(key="ev_rule").set_value("fixed").run()
    at.number_input(key="ev_fixed").set_value(0.3).run()
    assert not at.exception
    assert (dataframe_with(at, "cohort", "AUC", "cut-off")["cut-off"] == 0.3).all()
    assert _cutoff_slider(at, "fused").value == 0.3  # the explorer follows the chosen rule
    # The rule is kept when the page is left and opened again.
    at.switch_page("pages/models.py").run()
    at.switch_page("pages/evaluation.py").run()
    assert at.radio(key="ev_rule").value == "fixed" and at.number_input(key="ev_fixed").value == 0.3
    assert _cutoff_slider(at, "fused").value == 0.3
    at.toggle(key="ev_holm").set_value(True).run()
    assert "p_holm" in dataframe_with(at, "model_a", "model_b").columns
    at.radio(key="ev_ci").set_value("wilson").run()
    assert not at.exception
    # The choices are the study's evaluation settings (saved with it, used by External validation and the report).
    from core.workflows.study import EvaluationSettings

    study = at.session_state["study"]
    assert study.evaluation == EvaluationSettings(cutoff_rule="fixed", cutoff_value=0.3, proportion_ci="wilson")


@pytest.mark.slow
def test_evaluation_reads_the_settings_of_the_study_it_opens(evaluation):
    """A study opened with its own evaluation settings (e.g. a saved one) shows them, whatever the page showed."""
    from core.workflows.study import EvaluationSettings

    at = evaluation
    chosen = EvaluationSettings(cutoff_rule="sensitivity", cutoff_value=0.9, proportion_ci="wald")
    at.session_state["study"] = at.session_state["study"].replace(evaluation=chosen)
    at.run()
    assert not at.exception and not at.error
    assert at.radio(key="ev_rule").value == "sensitivity" and at.number_input(key="ev_target_sens").value == 0.9
    assert at.radio(key="ev_ci").value == "wald"
    table2 = dataframe_with(at, "cohort", "AUC", "cut-off", "SENS")
    train = table2[table2["cohort"] == "train"]
    assert train["SENS"].map(lambda text: float(text.split()[0]) >= 0.9).all()  # each model's cut-off reaches it
    at.radio(key="ev_rule").set_value("youden").run()
    assert at.session_state["study"].evaluation == EvaluationSettings()


def test_nomogram_calculator_gets_its_model_and_follows_the_committed_values():
    """The page sends the browser calculator the model's numbers and where to start (the browser tests compare its
    results with the engine); a study patient chosen sets the inputs (a new revision); the values the browser
    commits drive the what-if curve and the files; each model sends its own variables."""
    import ui

    at = open_page("pages/nomogram.py", timeout=300)
    assert not at.error
    study = at.session_state["study"]
    nomogram = ui.results(study).nomogram("fused")  # the app's own, shared in this process
    sent = calculator_data(at, "nom_calc")
    assert [v["name"] for v in sent["model"]["variables"]] == nomogram.variables and sent["persist"] is True
    fit, outcome = nomogram.model.fit, sent["model"]["outcome"]
    assert outcome["params"] == [float(fit.params[t]) for t in outcome["terms"]]  # to the last bit
    assert outcome["cov"] == fit.cov_params.loc[outcome["terms"], outcome["terms"]].to_numpy().tolist()
    assert len(sent["model"]["training_ranks"]) == len(study.train_ids)
    assert sent["inputs"] == ui.results(study).typical_inputs(nomogram.variables, nomogram.levels)
    assert {a["kind"] for a in sent["drawing"]["axes"]} == {"points", "continuous", "categorical", "total", "risk"}

    patient = at.selectbox(key="nom_patient").options[1]
    at.selectbox(key="nom_patient").set_value(patient).run()
    assert not at.exception
    sent = calculator_data(at, "nom_calc")
    assert sent["revision"] == 1
    assert sent["inputs"]["tumour_thickness_mm"] == pytest.approx(float(study.cohort.loc[patient,
                                                                                         "tumour_thickness_mm"]))
    # What the browser commits (kept by the page as the calculator's values) moves the what-if caption.
    def whatif() -> str:
        return next(c.value for c in at.caption if c.value.startswith("Across its range"))

    before = whatif()
    at.session_state["_nom_values"] = {**sent["inputs"], "cea_ng_ml": 60.0}
    at.run()
    assert not at.exception and whatif() != before
    assert calculator_data(at, "nom_calc")["inputs"]["cea_ng_ml"] == 60.0
    at.radio(key="nom_model").set_value("clinical").run()
    assert not at.exception
    names = [v["name"] for v in calculator_data(at, "nom_calc")["model"]["variables"]]
    assert "dl_radiomics_score" not in names and "cea_ng_ml" in names
    # A score alone has a nomogram and a calculator too.
    at.radio(key="nom_model").set_value("radiomics").run()
    assert not at.exception
    assert [v["name"] for v in calculator_data(at, "nom_calc")["model"]["variables"]] == ["radiomics_score"]


def test_subgroups_page_reports_table3_and_warns_on_small_groups():
    at = open_page("pages/subgroups.py", timeout=300)
    assert not at.error
    table3 = dataframe_with(at, "score", "AUC")
    assert len(table3) == 3 and "AUC" in table3.columns
    assert any("192 synchronous" in m.value for m in at.markdown)
    assert not at.warning
    at.radio(key="sub_patients").set_value("test").run()
    assert not at.exception
    # Any categorical column, among all patients: HER2 positive vs negative.
    at.radio(key="sub_patients").set_value("all").run()
    at.selectbox(key="sub_column").set_value("her2").run()
    at.radio(key="sub_population").set_value("all").run()
    assert not at.exception and dataframe_with(at, "score", "AUC").shape[0] == 3
    # A comparison resting on a handful of patients is flagged.
    at.selectbox(key="sub_column").set_value("ct_stage").run()
    at.radio(key="sub_population").set_value("events").run()
    counts = at.session_state["study"].cohort.query("lm == 1")["ct_stage"].value_counts()
    small = counts.index[-1]
    at.selectbox(key="sub_positive").set_value(small).run()
    assert not at.exception
    if counts[small] < 10:
        assert any("fewer than 10 patients" in w.value for w in at.warning)
