"""A study of scores alone: no clinical variable declared, none qualifying, or "none" chosen. The study then
has its score model(s) and no clinical or fused model, and every consumer (predictions, nomogram, the saved
models, core.analyse) works with one plain note saying why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.cli.analyse import main
from core.errors import RadNomoError
from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.study import FeatureFamily, make_study


def _features_only(n: int = 160, seed: int = 3, with_noise_clinical: bool = False):
    """``n`` patients, an outcome driven by 3 of 40 features; optionally one clinical variable of pure noise."""
    rng = np.random.default_rng(seed)
    ids = [f"p{i:03d}" for i in range(n)]
    X = pd.DataFrame(rng.normal(size=(n, 40)), index=pd.Index(ids, name="pid"),
                     columns=[f"feature_{j:02d}" for j in range(40)])
    logit = 1.6 * X["feature_00"] - 1.2 * X["feature_01"] + 0.9 * X["feature_02"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    clinical = pd.DataFrame({"pid": ids, "event": y})
    if with_noise_clinical:
        clinical["noise"] = rng.normal(size=n)
    return clinical, X


def _study(clinical, X, continuous=(), **settings):
    spec = CohortSpec(id_column="pid", outcome_column="event", continuous=tuple(continuous))
    study = make_study("features only", clinical, spec, SplitConfig(seed=1),
                       families=[FeatureFamily(name="radiomics", label="Radiomics", table=X)])
    return study.with_settings(**settings) if settings else study


def test_a_study_without_clinical_variables_has_its_score_and_a_plain_note():
    clinical, X = _features_only()
    study = _study(clinical, X)
    models = fit_study(study)
    assert models.clinical is None and models.fused is None
    assert models.model_names == ["radiomics"]
    assert "declares no clinical variable" in models.no_clinical
    assert any("no clinical model" in n for n in models.notes)
    predictions = predict_study(study, models)
    assert "clinical" not in predictions and predictions["radiomics"].between(0, 1).all()
    nomogram = models.nomogram(study, predictions, "radiomics")
    assert nomogram.variables == ["radiomics_score"]
    with pytest.raises(RadNomoError, match="no clinical model"):
        models.nomogram(study, predictions, "clinical")
    with pytest.raises(RadNomoError):
        models.model("clinical")
    # Saved and loaded as data, the absence and its reason come back.
    again = StudyModels.from_dict(models.to_dict())
    assert again.clinical is None and again.no_clinical == models.no_clinical
    np.testing.assert_allclose(again.predict(study.cohort, study.feature_tables())["radiomics"],
                               predictions["radiomics"])


def test_no_qualifying_variable_and_none_chosen_are_each_said():
    clinical, X = _features_only(with_noise_clinical=True)
    study = _study(clinical, X, continuous=["noise"], clinical_p=1e-6)
    models = fit_study(study)
    assert models.clinical is None and "reaches univariable p < 1e-06" in models.no_clinical
    chosen_none = _study(clinical, X, continuous=["noise"], clinical_continuous=(), clinical_categorical=())
    models = fit_study(chosen_none)
    assert models.clinical is None and "none was chosen" in models.no_clinical
    # Choosing the variable by hand fits a clinical model and a fused one.
    chosen = _study(clinical, X, continuous=["noise"], clinical_continuous=("noise",), clinical_categorical=())
    models = fit_study(chosen)
    assert models.clinical is not None and models.fused is not None and models.no_clinical == ""


def test_a_study_with_neither_a_clinical_model_nor_a_score_is_refused_with_why():
    clinical, X = _features_only()
    study = _study(clinical, X).with_settings(
        screening=_study(clinical, X).settings.screening.__class__(variance_threshold=1e9))
    with pytest.raises(RadNomoError, match="no model to fit"):
        fit_study(study)


@pytest.mark.slow
def test_core_analyse_runs_a_features_only_study_to_exit_0(tmp_path):
    clinical, X = _features_only()
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    X.reset_index().to_csv(tmp_path / "features.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(tmp_path / "clinical.csv"), "--id", "pid", "--outcome", "event",
                 "--features", f"radiomics={tmp_path / 'features.csv'}", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "table2.csv")
    assert set(table["model"]) == {"radiomics"}
    assert "no clinical model" in (out / "notes.txt").read_text()
    points = pd.read_csv(out / "nomogram_points.csv")
    assert set(points["model"]) == {"radiomics"}
    assert "no clinical model" in (out / "report.html").read_text()


def test_core_analyse_clinical_model_none(tmp_path):
    clinical, X = _features_only(with_noise_clinical=True)
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    X.reset_index().to_csv(tmp_path / "features.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(tmp_path / "clinical.csv"), "--id", "pid", "--outcome", "event",
                 "--continuous", "noise", "--clinical-model", "none",
                 "--features", f"radiomics={tmp_path / 'features.csv'}", "--out", str(out)])
    assert code == 0
    assert set(pd.read_csv(out / "table2.csv")["model"]) == {"radiomics"}
    assert "none was chosen" in (out / "notes.txt").read_text()


def test_table2_judges_a_model_on_the_patients_it_has_and_counts_the_rest():
    from core.stats.summaries import table2, training_cutoffs

    clinical, X = _features_only()
    study = _study(clinical, X)
    models = fit_study(study)
    predictions = predict_study(study, models)
    gone = study.test_ids[:5]
    predictions.loc[gone, "radiomics"] = np.nan  # as for test patients whose features are missing
    cutoffs = training_cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    table = table2(predictions, study.outcome, study.cohorts(), cutoffs).set_index("cohort")
    assert table.loc["train", "left_out"] == 0 and table.loc["test", "left_out"] == 5
    assert np.isfinite(table.loc["test", "auc"])


@pytest.mark.parametrize("option, value", [("--n-boot", "100000"), ("--n-boot", "-1"), ("--seed", "-1"),
                                           ("--variance-threshold", "nan"), ("--p-threshold", "0"),
                                           ("--workers", "100000"), ("--folds", "1"), ("--test-fraction", "inf")])
def test_core_analyse_refuses_numbers_out_of_range_before_any_work(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as stopped:
        main(["--clinical", str(tmp_path / "never_read.csv"), "--id", "pid", "--outcome", "event", option, value,
              "--out", str(tmp_path / "out")])
    assert stopped.value.code == 2
    assert option in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
