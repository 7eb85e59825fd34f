"""A time-to-event study of real patients from images: the 51 soft-tissue-sarcoma CTs of ../shared/data/sts_ct
(CC BY 3.0; Vallieres et al. 2015, TCIA Soft-tissue-Sarcoma), overall survival in days (``days_dx_to_last_fu``,
event = ``status`` "D": 15 deaths): the CTs' first-order features extracted here by the product's batch extraction
(pyradiomics, original grid, two workers: under a minute), then ``python -m core.analyse`` from the tables to the
saved study, with no test cohort (bootstrap and repeated CV). (``core.analyse --images`` resamples to 1 mm first,
several minutes per ten CTs: tests/core/test_analyse.py covers that path on 20 of them.)

What is checked: every output is there and complete (one row per patient and model, per horizon 365, 730 and
1095 days), finite where it must be (C, AUC(t), predicted survival in [0, 1], falling with the horizon), the
clinical Cox model's hazard ratios equal R's ``coxph`` (Efron ties) on the same table
(tests/reference/survival_cox.R writes them, dataset "sts_ct": ``age`` and ``male``; tolerance 1e-6 relative, the
same algorithm to convergence) and lifelines' on the same rows, and the notes say how many folds and resamples
each validation count covers.

The shared data are read where they are and never copied into the repository: the event column is derived here
into pytest's tmp_path. Without ../shared/data the test is skipped, saying so.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli.analyse import main
from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
from core.imaging.extraction.preprocess import PreprocessConfig
from core.imaging.extraction.radiomics import load_params
from core.vocabulary import horizon_column
from core.workflows.persistence import load_study

STS = Path(__file__).resolve().parents[3] / "shared" / "data" / "sts_ct"
REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "survival_cox_coef.csv"
HORIZONS = (365.0, 730.0, 1095.0)
# Only the 18 first-order features of the original image, on its own grid (0.98 x 0.98 x 3.27 mm): enough for a
# radiomics score, and the extraction of 51 CTs stays short on two workers.
PARAMS = b"""imageType:
  Original: {}
featureClass:
  firstorder:
setting:
  binWidth: 25
  preCrop: true
  label: 1
  normalize: false
  voxelArrayShift: 1000
  correctMask: true
"""

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (STS / "manifest.csv").is_file(),
    reason="needs ../shared/data/sts_ct (the real soft-tissue-sarcoma CTs, not part of a fresh clone)")]


def sarcoma_survival_table() -> pd.DataFrame:
    """The sarcoma clinical table as a time-to-event study reads it: ``os_days`` (days from diagnosis to the last
    follow-up), ``death`` (1 = died, status "D"; 0 = alive at the last follow-up, "NED" or "AWD"), the
    predictors age, sex and grade; the columns that describe what happened after diagnosis are left out."""
    table = pd.read_csv(STS / "tables" / "clinical_outcome.csv")
    assert set(table["status"]) <= {"D", "NED", "AWD"}  # a new status would need a decision, not a silent 0
    return pd.DataFrame({"patient_id": table["patient_id"], "age": table["age"], "sex": table["sex"],
                         "grade": table["grade"], "os_days": table["days_dx_to_last_fu"],
                         "death": (table["status"] == "D").astype(int)})


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    """The whole study, run once: (output folder, the table it read)."""
    folder = tmp_path_factory.mktemp("sarcoma_survival")
    table = sarcoma_survival_table()
    table.to_csv(folder / "clinical.csv", index=False)
    manifest = read_manifest(STS / "manifest.csv", base_dir=STS)
    settings = ExtractionSettings(params=load_params(PARAMS), preprocess=PreprocessConfig(spacing_mm=None))
    extracted = run_batch(manifest, settings, workers=2)
    assert (extracted.status["status"] == "extracted").all(), extracted.status
    extracted.features.rename_axis("patient_id").reset_index().to_csv(folder / "radiomics.csv", index=False)
    out = folder / "out"
    code = main(["--clinical", str(folder / "clinical.csv"), "--id", "patient_id", "--time", "os_days", "--event",
                 "death", "--horizons", ",".join(f"{h:g}" for h in HORIZONS), "--time-unit", "days",
                 "--continuous", "age", "--categorical", "sex", "--clinical-model", "age,sex",
                 "--features", f"radiomics={folder / 'radiomics.csv'}", "--no-test", "--n-boot", "10",
                 "--out", str(out)])
    assert code == 0
    return out, table


def test_every_output_is_complete_and_finite(study_run):
    out, table = study_run
    for name in ("table2.csv", "td_auc.csv", "predictions.csv", "coefficients.csv", "nomogram_points.csv",
                 "nomogram_axes.csv", "validation.csv", "notes.txt", "timing.json", "report.html"):
        assert (out / name).is_file(), name
    study = load_study(out / "study")
    assert len(study.cohort) == 51 and not study.has_test
    assert study.family("radiomics").table.shape[0] == 51
    table2 = pd.read_csv(out / "table2.csv")
    models = list(table2["model"])
    assert "clinical" in models and set(table2["cohort"]) == {"train"}
    assert table2["n"].eq(51).all() and table2["events"].eq(15).all()
    assert table2["c_index"].between(0, 1).all() and (table2["c_low"] <= table2["c_index"]).all() \
        and (table2["c_index"] <= table2["c_high"]).all()
    td = pd.read_csv(out / "td_auc.csv")
    assert len(td) == len(models) * len(HORIZONS) and set(td["horizon"]) == set(HORIZONS)
    assert np.isfinite(td[["auc", "auc_low", "auc_high"]].to_numpy()).all() and td["auc"].between(0, 1).all()
    predictions = pd.read_csv(out / "predictions.csv")
    assert len(predictions) == 51 * len(models) and set(predictions["model"]) == set(models)
    survival = predictions[[horizon_column(h) for h in HORIZONS]].to_numpy()
    assert np.isfinite(predictions["linear_predictor"]).all() and ((survival >= 0) & (survival <= 1)).all()
    assert (np.diff(survival, axis=1) <= 1e-12).all()  # survival never rises with the horizon
    # The times and events written beside the predictions are the table's, patient by patient.
    merged = predictions.merge(table, left_on="id", right_on="patient_id")
    assert len(merged) == len(predictions)
    np.testing.assert_array_equal(merged["time"], merged["os_days"])
    np.testing.assert_array_equal(merged["event"], merged["death"])
    axes = pd.read_csv(out / "nomogram_axes.csv")
    assert {horizon_column(h) for h in HORIZONS} <= set(axes["axis"])
    assert set(json.loads((out / "timing.json").read_text())) >= {"reading", "fitting", "evaluating", "validating"}


def test_the_clinical_cox_model_equals_r_and_lifelines(study_run):
    """The clinical model (age + sex, every patient training) is R's coxph(Surv(os_days, death) ~ age + male)."""
    out, table = study_run
    coefficients = pd.read_csv(out / "coefficients.csv")
    clinical = coefficients[coefficients["model"] == "clinical"].set_index("term")
    assert len(clinical) == 2
    sex_term = next(t for t in clinical.index if "Male" in t)  # Female, the first level, is the reference
    ours = clinical.loc[["age", sex_term]]
    reference = pd.read_csv(REFERENCE)
    r = reference[reference["dataset"] == "sts_ct"].set_index("term").loc[["age", "male"]]
    assert len(r) == 2, "rerun tests/reference/survival_cox.R with ../shared/data present (its sts_ct rows)"
    for column in ("coef", "p", "HR_lower", "HR_upper"):
        np.testing.assert_allclose(ours[column].to_numpy(), r[column].to_numpy(), rtol=1e-6, err_msg=column)
    np.testing.assert_allclose(ours["HR"].to_numpy(), np.exp(r["coef"].to_numpy()), rtol=1e-6)
    from lifelines import CoxPHFitter

    rows = pd.DataFrame({"time": table["os_days"], "event": table["death"], "age": table["age"],
                         "male": (table["sex"] == "Male").astype(float)})
    # Efron ties, as coxph; converged as tightly as R's reference (lifelines' default stops near 1e-5 relative here)
    lifelines_fit = CoxPHFitter().fit(rows, "time", "event", fit_options={"precision": 1e-12})
    np.testing.assert_allclose(ours["coef"].to_numpy(), lifelines_fit.params_[["age", "male"]].to_numpy(),
                               rtol=1e-6)


def test_validation_counts_what_it_says(study_run):
    """validation.csv: per model, Harrell's C and the AUC at each horizon (days) with the bootstrap optimism and the
    repeated CV; each count below the runs made is explained in notes.txt."""
    out, _ = study_run
    validation = pd.read_csv(out / "validation.csv")
    labels = ["C-index", *(f"AUC(t={h:g})" for h in HORIZONS)]
    assert set(validation["measure"]) == set(labels)
    assert np.isfinite(validation["apparent"]).all() and validation["apparent"].between(0, 1).all()
    assert (validation["n_boot"] <= 10).all() and (validation["cv_folds"] <= 25).all()
    np.testing.assert_allclose(validation["corrected"], validation["apparent"] - validation["optimism"], rtol=1e-12)
    table2 = pd.read_csv(out / "table2.csv").set_index("model")
    apparent = validation[validation["measure"] == "C-index"].set_index("model")["apparent"]
    np.testing.assert_allclose(apparent, table2.loc[apparent.index, "c_index"], rtol=1e-9)
    notes = (out / "notes.txt").read_text()
    assert "10 resamples" in notes and "5 x 5-fold" in notes
    assert "cv_folds the held-out folds (of 25 run)" in notes
    clinical = validation[validation["model"] == "clinical"]
    # The clinical model is named (--clinical-model): refitted in every fold; a measure missing somewhere is said.
    for measure, folds in zip(clinical["measure"], clinical["cv_folds"], strict=True):
        assert folds == 25 or f"{measure} could be estimated in {folds} of the 25 folds" in notes, measure
    assert all(math.isfinite(v) for v in clinical["cv_mean"])
