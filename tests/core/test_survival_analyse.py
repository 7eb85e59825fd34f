"""python -m core.analyse on a time-to-event study (issue 27): the command line's outcome options, and a whole run on
the sample's overall survival (clinical table + survival.csv, radiomics family, an external centre) whose files
hold the names scripts read and the numbers of the study's own evaluation."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from core.cli.analyse import main, outcome_from_arguments
from core.cli.arguments import MAX_HORIZONS, parse_horizons
from core.errors import RadNomoError
from core.stats.outcomes import BinaryOutcome, SurvivalOutcome
from core.vocabulary import horizon_column, survival_column
from core.workflows.persistence import load_study
from core.workflows.results import StageStore, StudyResults, reopen_study
from core.workflows.sample import SAMPLE_DIR, SAMPLE_RADIOMICS, load_sample_survival_table

CONTINUOUS = "age,tumour_thickness_mm,cea_ng_ml,ca19_9_u_ml"
CATEGORICAL = "sex,location,ct_stage,cn_stage,differentiation,lauren,her2"
HORIZONS = (12.0, 36.0, 60.0)
SURVIVAL = ["--time", "os_months", "--event", "death", "--horizons", "12,36,60"]


@pytest.fixture(scope="module")
def survival_table(tmp_path_factory):
    """The sample's clinical table with each patient's overall survival, as one CSV."""
    path = tmp_path_factory.mktemp("survival") / "clinical_survival.csv"
    load_sample_survival_table().to_csv(path, index=False)
    return path


# -- the outcome options (fast) -------------------------------------------------------------------------------


def test_horizons_parse_to_sorted_positive_floats():
    assert parse_horizons("60, 12,36") == (12.0, 36.0, 60.0)
    assert parse_horizons("0.5") == (0.5,)
    assert parse_horizons("365.25,730.5", "--horizons") == (365.25, 730.5)
    assert parse_horizons("12,,36") == (12.0, 36.0)  # an empty entry between commas is no horizon


@pytest.mark.parametrize("text, message", [
    ("", "at least one horizon"), ("12,abc", "'abc' is not a time > 0"),
    ("0", "'0' is not a time > 0"), ("-12", "'-12' is not a time > 0"), ("inf", "'inf' is not a time > 0"),
    ("nan", "'nan' is not a time > 0"), ("12,36,12", "repeats 12"), ("12,12.0", "repeats 12"),
    (",".join(str(i) for i in range(1, MAX_HORIZONS + 2)), f"at most {MAX_HORIZONS}")])
def test_bad_horizons_are_refused_with_the_reason(text, message):
    with pytest.raises(RadNomoError) as error:
        parse_horizons(text)
    assert message in str(error.value) and "--horizons" in str(error.value)


def test_the_outcome_options_make_a_binary_or_a_time_to_event_outcome():
    assert outcome_from_arguments("lm", None, None, None, None) == BinaryOutcome("lm")
    survival = outcome_from_arguments(None, "os", "dead", "60,12", None)
    assert survival == SurvivalOutcome(time_column="os", event_column="dead", time_unit="months", horizons=(12, 60))
    assert outcome_from_arguments(None, "os", "dead", "365", " days ").time_unit == "days"


@pytest.mark.parametrize("options, message", [
    ((None, None, None, None, None), "name the outcome"),
    (("lm", "os", "dead", "12", None), "not both"),
    (("lm", "os", None, None, None), "not both"),
    ((None, "os", None, "12", None), "--time needs --event"),
    ((None, None, "dead", "12", None), "--event needs --time"),
    ((None, "os", "dead", None, None), "needs --horizons"),
    (("lm", None, None, "12", None), "--horizons belong to a time-to-event outcome"),
    ((None, None, None, None, "days"), "--time-unit belong to a time-to-event outcome"),
    ((None, "os", "dead", "12", "  "), "--time-unit is empty"),
    ((None, "os", "os", "12", None), "must be two columns")])
def test_inconsistent_outcome_options_are_refused(options, message):
    with pytest.raises(RadNomoError) as error:
        outcome_from_arguments(*options)
    assert message in str(error.value)


@pytest.mark.parametrize("extra, message", [
    (["--time", "os_months", "--horizons", "12"], "--time needs --event"),
    (["--outcome", "death", "--time", "os_months", "--event", "death", "--horizons", "12"], "not both"),
    (["--time", "os_months", "--event", "death", "--horizons", "12,x"], "'x' is not a time > 0"),
    (["--time", "os_months", "--event", "death"], "needs --horizons"),
    ([*SURVIVAL, "--cutoff", "fixed=0.3"], "apply to a binary outcome"),
    ([*SURVIVAL, "--ci", "wilson"], "apply to a binary outcome"),
    (["--time", "os_days", "--event", "death", "--horizons", "12"],
     "--id 'patient_id', --time 'os_days' and --event 'death' must be columns"),
    ([*SURVIVAL, "--score-method", "refit"], "does not apply to a survival outcome"),
    (["--time", "os_months", "--event", "death", "--horizons", "12,36,600"], "beyond the last follow-up")])
def test_the_command_refuses_bad_outcome_options_with_one_message(survival_table, tmp_path, capsys, extra, message):
    code = main(["--clinical", str(survival_table), "--id", "patient_id", "--continuous", "age", "--categorical",
                 "sex", *extra, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error:") and message in err[0], err


# -- a whole time-to-event run (slow: three fits of the 1,001-patient sample and their evaluation) ------------------


@pytest.mark.slow
def test_a_time_to_event_study_from_files(survival_table, tmp_path, capsys):
    centre = pd.read_csv(SAMPLE_DIR / "external" / "clinical.csv", dtype={"patient_id": str}).merge(
        pd.read_csv(SAMPLE_DIR / "external" / "survival.csv", dtype={"patient_id": str}), on="patient_id",
        validate="one_to_one")
    centre.to_csv(tmp_path / "centre.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(survival_table), "--id", "patient_id", *SURVIVAL, "--time-unit", "months",
                 "--continuous", CONTINUOUS, "--categorical", CATEGORICAL,
                 "--features", f"radiomics={SAMPLE_RADIOMICS}",
                 "--external", f"centre B={tmp_path / 'centre.csv'},radiomics="
                               f"{SAMPLE_DIR / 'external' / 'features_radiomics.parquet'}",
                 "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "Harrell's C-index (95 % CI)" in printed.out and "Time-dependent AUC at each horizon (months)" in printed.out
    for name in ("predictions.csv", "table2.csv", "td_auc.csv", "coefficients.csv", "funnel.csv", "univariable.csv",
                 "nomogram_points.csv", "nomogram_axes.csv", "imports.csv", "notes.txt", "timing.json"):
        assert (out / name).is_file(), name
    report = (out / "report.html").read_text()  # the time-to-event report, its external centre included
    assert "Harrell's C" in report and "centre B: " in report

    # The saved study reopens with its outcome and its models (fitted for a time to event).
    store = StageStore()
    study = reopen_study(out / "study", store)  # the saved fit seeds the store: nothing is refitted below
    assert study.spec.outcome == SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months",
                                                 horizons=HORIZONS)
    assert study.settings.score_method == "cox_refit" and study.settings.screening.test == "cox_wald"
    results = StudyResults(study, store)
    models, wide, evaluation = results.models, results.predictions, results.evaluation
    assert models.outcome_kind == "survival" and store.computed["models"] == 0
    names = list(models.model_names)
    assert names == ["clinical", "radiomics", "fused"]

    # predictions.csv: one row per patient and model of every cohort; its numbers are the models'.
    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    surv = [horizon_column(h) for h in HORIZONS]
    assert list(predictions.columns) == ["cohort", "id", "model", "time", "event", "linear_predictor", *surv]
    assert predictions.groupby("cohort").size().to_dict() == {"train": 700 * 3, "test": 301 * 3, "centre B": 300 * 3}
    assert not predictions.duplicated(["cohort", "id", "model"]).any()
    assert predictions[surv].notna().all().all() and predictions[surv].apply(lambda c: c.between(0, 1)).all().all()
    assert (np.diff(predictions[surv].to_numpy(), axis=1) <= 0).all()  # survival never rises with time
    own = predictions[predictions["cohort"] != "centre B"]
    for model in names:
        rows = own[own["model"] == model].set_index("id")
        np.testing.assert_allclose(rows["linear_predictor"], wide.loc[rows.index, model], rtol=1e-12)
        for h in HORIZONS:
            np.testing.assert_allclose(rows[horizon_column(h)], wide.loc[rows.index, survival_column(model, h)],
                                       rtol=1e-12)
        np.testing.assert_allclose(rows["time"], study.cohort.loc[rows.index, "os_months"], rtol=1e-12)
        assert (rows["event"] == study.cohort.loc[rows.index, "death"]).all()
    # The clinical model reads raw clinical columns: its own predict_survival gives the same survival.
    clinical = own[own["model"] == "clinical"].set_index("id")
    direct = models["clinical"].predict_survival(study.cohort.loc[clinical.index], list(HORIZONS))
    np.testing.assert_allclose(clinical[surv], direct[surv], rtol=1e-12)
    assert set(predictions.loc[predictions["cohort"] == "centre B", "id"]) == set(centre["patient_id"])

    # table2.csv and td_auc.csv: on train and test, the study's own evaluation (same cut-offs, same numbers).
    table2 = pd.read_csv(out / "table2.csv")
    assert {"c_index", "c_low", "c_high"} <= set(table2.columns)
    for h in ("12", "36", "60"):
        assert {f"auc_{h}", f"sensitivity_{h}", f"specificity_{h}", f"ppv_{h}", f"npv_{h}"} <= set(table2.columns)
    assert set(table2["cohort"]) == {"train", "test", "centre B"}
    expected = evaluation.table2()
    mine = table2[table2["cohort"] != "centre B"].reset_index(drop=True)[expected.columns]
    pd.testing.assert_frame_equal(mine, expected, check_dtype=False, rtol=1e-12)
    td = pd.read_csv(out / "td_auc.csv")
    assert list(td.columns) == ["cohort", "model", "horizon", "auc", "auc_low", "auc_high"]
    pd.testing.assert_frame_equal(td[td["cohort"] != "centre B"].reset_index(drop=True),
                                  evaluation.td_auc.reset_index(drop=True), check_dtype=False, rtol=1e-12)
    assert td[["auc", "auc_low", "auc_high"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (td["auc_low"] <= td["auc"]).all() and (td["auc"] <= td["auc_high"]).all()

    # coefficients.csv: every model's hazard ratios, the contract's columns first.
    coefficients = pd.read_csv(out / "coefficients.csv")
    assert list(coefficients.columns[:7]) == ["model", "term", "coef", "HR", "HR_lower", "HR_upper", "p"]
    assert set(coefficients["model"]) == set(names)
    np.testing.assert_allclose(coefficients["HR"], np.exp(coefficients["coef"]), rtol=1e-12)
    fused = coefficients[coefficients["model"] == "fused"].set_index("term")
    np.testing.assert_allclose(fused["coef"], models["fused"].table.loc[fused.index, "coef"], rtol=1e-12)

    # The funnel and the univariable Cox table of the clinical variables (hazard ratios, training patients).
    funnel = pd.read_csv(out / "funnel.csv")
    assert set(funnel["family"]) == {"radiomics"}
    assert funnel["n_features"].iloc[-1] == models["radiomics"].table.shape[0]
    univariable = pd.read_csv(out / "univariable.csv")
    assert "HR" in univariable.columns and set(univariable["variable"]) == set(CONTINUOUS.split(",")) | set(
        CATEGORICAL.split(","))

    # The nomogram: its points, and where survival at each horizon and the median survival fall on its total points.
    points = pd.read_csv(out / "nomogram_points.csv")
    assert list(points.columns) == ["model", "variable", "value", "points"] and set(points["model"]) == {"fused"}
    axes = pd.read_csv(out / "nomogram_axes.csv")
    assert list(axes.columns) == ["model", "axis", "horizon", "total_points", "value"]
    assert set(axes["axis"]) <= {*surv, "median"} and set(surv) <= set(axes["axis"])
    nomogram = results.nomogram("fused")
    for h in HORIZONS:
        shown = axes[axes["axis"] == horizon_column(h)]
        assert (shown["horizon"] == h).all() and shown["value"].between(0, 1, inclusive="neither").all()
        lp = [nomogram.linear_predictor_at(p) for p in shown["total_points"]]
        np.testing.assert_allclose(nomogram.survival(h, lp), shown["value"], atol=1e-3)  # rms's 1000-point grid
    median = axes[axes["axis"] == "median"]
    assert median["horizon"].isna().all() and (median["value"] > 0).all()

    notes = (out / "notes.txt").read_text()
    assert "centre B: the check of patients outside the training range" in notes
    assert set(json.loads((out / "timing.json").read_text())) >= {"reading", "fitting", "evaluating"}
    assert all(math.isfinite(v) for v in table2["c_index"])


@pytest.mark.slow
def test_without_a_test_cohort_the_bootstrap_and_cv_give_c_and_td_auc_per_model(survival_table, tmp_path):
    """200 patients, every one training: validation.csv has one row per model and measure (Harrell's C, then the
    AUC at each horizon) with the bootstrap's optimism and the repeated CV beside it, and the saved study keeps
    the run."""
    small = pd.read_csv(survival_table, dtype={"patient_id": str}).iloc[:200]
    small.to_csv(tmp_path / "small.csv", index=False)
    out = tmp_path / "out"
    assert main(["--clinical", str(tmp_path / "small.csv"), "--id", "patient_id", "--time", "os_months", "--event",
                 "death", "--horizons", "12,36", "--continuous", "age,cea_ng_ml", "--categorical", "sex",
                 "--features", f"radiomics={SAMPLE_RADIOMICS}", "--no-test", "--n-boot", "3", "--out", str(out)]) == 0
    validation = pd.read_csv(out / "validation.csv")
    assert list(validation.columns[:6]) == ["model", "measure", "apparent", "optimism", "corrected", "n_boot"]
    assert {"cv_mean", "cv_sd", "cv_folds"} <= set(validation.columns)
    assert validation.groupby("model", sort=False)["measure"].apply(list).to_dict() == {
        m: ["C-index", "AUC(t=12)", "AUC(t=36)"] for m in ("clinical", "radiomics", "fused")}
    np.testing.assert_allclose(validation["corrected"], validation["apparent"] - validation["optimism"], rtol=1e-12)
    assert validation["cv_mean"].between(0, 1).all() and (validation["n_boot"] <= 3).all()
    # The apparent C is Table 2's training C (the same fit on the same patients).
    table2 = pd.read_csv(out / "table2.csv").set_index("model")
    apparent = validation[validation["measure"] == "C-index"].set_index("model")["apparent"]
    np.testing.assert_allclose(apparent, table2.loc[apparent.index, "c_index"], rtol=1e-9)
    run = load_study(out / "study").current_validation()
    assert run is not None and run.meta["bootstrap"]["done"] == 3
    # A model missing from some CV folds (its LASSO kept nothing, no clinical variable passed, or the whole refit
    # failed) is said in notes.txt with the refit's reason, and cv_folds counts exactly the folds said.
    notes = (out / "notes.txt").read_text()
    assert "validation.csv: n_boot counts the bootstrap resamples and cv_folds the held-out folds (of 25 run)" in notes
    failed = re.search(r"could not be refitted in (\d+) of 25 folds \(e\.g\. '(.+?)'\)", notes)
    refitted = 25 - (int(failed.group(1)) if failed else 0)
    assert not failed or failed.group(2)  # the reason itself, never empty
    labels = {"clinical": "Clinical model", "radiomics": "Radiomics score", "fused": "Fused model"}
    for model, folds in validation[validation["measure"] == "C-index"].set_index("model")["cv_folds"].items():
        assert folds <= refitted
        if folds < refitted:
            assert re.search(rf"Repeated CV: {labels[model]}[^\n]* was refitted in {folds} of the {refitted} "
                             r"folds where the pipeline was \(in the others, e\.g\. '.+'\)", notes), (model, folds)


def test_cv_fold_notes_say_every_fold_a_model_or_the_pipeline_was_not_refitted_in():
    """The fold records of repeated_cv_auc in words: a fold whose refit failed (with its error), and a model refitted
    in fewer folds than the pipeline (with the refit's own note on it); nothing when every model was refitted."""
    from types import SimpleNamespace

    from core.workflows.validation import FOLD_RECORD, cv_fold_notes

    study = SimpleNamespace(model_label=lambda m: {"clinical": "Clinical model", "radiomics": "Radiomics score"}[m])
    both = {FOLD_RECORD: "", "refitted": ["clinical", "radiomics"], "notes": []}
    alone = {FOLD_RECORD: "", "refitted": ["clinical"],
             "notes": ["clinical: 2 missing value(s) imputed", "radiomics: the LASSO-Cox kept no feature."]}
    failed = {FOLD_RECORD: "this study has no model to fit: ...", "refitted": [], "notes": []}
    cv = pd.DataFrame(columns=["repeat", "fold", "model", "measure", "value"])
    cv.attrs["folds"] = [{"repeat": 1, "fold": i + 1, **r} for i, r in enumerate([both, alone, failed, both])]
    notes = cv_fold_notes(study, cv)
    assert notes == [
        "Repeated CV: the pipeline could not be refitted in 1 of 4 folds (e.g. 'this study has no model to fit: ...'); "
        "those folds have no value for any model.",
        "Repeated CV: Radiomics score was refitted in 2 of the 3 folds where the pipeline was (in the others, e.g. "
        "'the LASSO-Cox kept no feature.'); its held-out values (their mean, SD and count) are over those folds only."]
    cv.attrs["folds"] = [{"repeat": 1, "fold": 1, **both}]
    assert cv_fold_notes(study, cv) == []
    del cv.attrs["folds"]  # a run read back from files: no record, no claim
    assert cv_fold_notes(study, cv) == []


@pytest.mark.slow
def test_the_readme_survival_command_reproduces_its_table(tmp_path):
    """README "Time-to-event (survival) studies": the joined table and the command give the C-indices and test
    AUC(t) the README shows (3 decimals)."""
    from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_DEEP, SAMPLE_SURVIVAL

    table = pd.read_csv(SAMPLE_CLINICAL).merge(pd.read_csv(SAMPLE_SURVIVAL), on="patient_id", validate="one_to_one")
    table.to_csv(tmp_path / "clinical_survival.csv", index=False)
    out = tmp_path / "out"
    assert main(["--clinical", str(tmp_path / "clinical_survival.csv"), "--id", "patient_id", *SURVIVAL,
                 "--time-unit", "months", "--continuous", CONTINUOUS, "--categorical", CATEGORICAL,
                 "--features", f"radiomics={SAMPLE_RADIOMICS}", "--features", f"dl={SAMPLE_DEEP}",
                 "--combine", "dl_radiomics=radiomics+dl", "--out", str(out)]) == 0
    table2 = pd.read_csv(out / "table2.csv").set_index(["cohort", "model"])
    models = ["clinical", "radiomics", "dl", "dl_radiomics", "fused"]
    readme = {("train", "c_index"): [0.630, 0.629, 0.635, 0.651, 0.687],
              ("test", "c_index"): [0.635, 0.606, 0.614, 0.633, 0.671],
              ("test", "auc_12"): [0.674, 0.626, 0.686, 0.703, 0.739],
              ("test", "auc_36"): [0.671, 0.644, 0.626, 0.654, 0.704],
              ("test", "auc_60"): [0.732, 0.670, 0.600, 0.666, 0.742],
              ("train", "c_low"): [0.600, 0.599, 0.606, 0.622, 0.658],
              ("train", "c_high"): [0.659, 0.659, 0.664, 0.680, 0.715],
              ("test", "c_low"): [0.591, 0.559, 0.570, 0.589, 0.627],
              ("test", "c_high"): [0.678, 0.653, 0.658, 0.677, 0.715]}
    for (cohort, column), expected in readme.items():
        np.testing.assert_allclose(table2.loc[cohort].loc[models, column].round(3), expected, atol=1e-9,
                                   err_msg=f"{cohort} {column}")
    fused_train = table2.loc[("train", "fused"), ["auc_12", "auc_36", "auc_60"]].astype(float).round(3)
    np.testing.assert_allclose(fused_train, [0.720, 0.744, 0.758], atol=1e-9)
