"""python -m core.analyse: a whole study from files, on the sample study, on a table shaped like a real
pyradiomics export, and on the real soft-tissue-sarcoma CT cohort (when ../shared is present)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli.analyse import main
from core.workflows.persistence import load_study
from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_DEEP, SAMPLE_RADIOMICS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
STS = SHARED / "sts_ct"
SAMPLE_VARIABLES = ["--continuous", "age,tumour_thickness_mm,cea_ng_ml,ca19_9_u_ml",
                    "--categorical", "sex,location,ct_stage,cn_stage,differentiation,lauren,her2"]


@pytest.mark.slow
def test_the_sample_study_from_files_reproduces_the_readme(tmp_path, capsys):
    code = main(["--clinical", str(SAMPLE_CLINICAL), "--id", "patient_id", "--outcome", "lm", *SAMPLE_VARIABLES,
                 "--features", f"radiomics={SAMPLE_RADIOMICS}", "--features", f"dl={SAMPLE_DEEP}",
                 "--combine", "dl_radiomics=radiomics+dl", "--out", str(tmp_path)])
    assert code == 0
    table = pd.read_csv(tmp_path / "table2.csv").set_index(["cohort", "model"])["auc"]
    readme = {"train": [0.747, 0.746, 0.838, 0.859, 0.889], "test": [0.688, 0.701, 0.719, 0.739, 0.772]}
    for cohort, values in readme.items():
        np.testing.assert_allclose(table.loc[cohort].loc[["clinical", "radiomics", "dl", "dl_radiomics", "fused"]],
                                   values, atol=5e-4)
    for name in ("funnel.csv", "coefficients.csv", "nomogram_points.csv", "report.html", "notes.txt"):
        assert (tmp_path / name).is_file(), name
    funnel = pd.read_csv(tmp_path / "funnel.csv")
    assert funnel.groupby("family")["n_features"].last().to_dict() == {"dl": 39, "dl_radiomics": 41, "radiomics": 7}
    study = load_study(tmp_path / "study")  # the dashboard opens it
    assert study.name == "clinical" and study.combined[0].members == ("radiomics", "dl")
    assert "test | fused" not in capsys.readouterr().err
    _the_methodologists_files_agree_with_the_predictions(tmp_path)


def _the_methodologists_files_agree_with_the_predictions(out: Path) -> None:
    """predictions.csv, calibration.csv, decision_curve.csv, reclassification.csv and sample_size.csv (issue 28):
    the columns the README promises, and each file's numbers recomputed from predictions.csv."""
    from core.stats.calibration import calibration_summary
    from core.stats.decision_analysis import decision_analysis
    from core.stats.reclassification import improve_prob

    predictions = pd.read_csv(out / "predictions.csv", dtype={"id": str})
    assert list(predictions.columns) == ["cohort", "id", "model", "outcome", "probability"]
    assert predictions.groupby("cohort")["id"].nunique().to_dict() == {"train": 700, "test": 301}
    test_fused = predictions[(predictions["cohort"] == "test") & (predictions["model"] == "fused")]
    calibration = pd.read_csv(out / "calibration.csv").set_index(["cohort", "model"])
    for column in ("n", "events", "citl", "citl_low", "citl_high", "intercept", "intercept_low", "intercept_high",
                   "slope", "slope_low", "slope_high", "ici", "e50", "e90", "emax", "spiegelhalter_z", "brier",
                   "hl_statistic", "hl_df", "hl_p"):
        assert column in calibration.columns, column
    expected = calibration_summary(test_fused["outcome"], test_fused["probability"]).as_row()
    for column, value in expected.items():
        assert calibration.loc[("test", "fused"), column] == pytest.approx(value, rel=1e-9, abs=1e-12), column
    decision = pd.read_csv(out / "decision_curve.csv")
    assert {"threshold", "net_benefit", "net_benefit_low", "net_benefit_high", "interventions_avoided",
            "standardized_net_benefit"} <= set(decision.columns)
    curve = decision[(decision["cohort"] == "test") & (decision["model"] == "fused")].reset_index(drop=True)
    again = decision_analysis(test_fused["outcome"], test_fused["probability"], n_boot=500, seed=2025)
    np.testing.assert_allclose(curve["net_benefit"], again["net_benefit"], atol=1e-12)
    np.testing.assert_allclose(curve["net_benefit_low"], again["net_benefit_low"], atol=1e-12)  # seeded: the same
    reclassification = pd.read_csv(out / "reclassification.csv").set_index(["cohort", "model"])
    assert set(reclassification["reference"]) == {"clinical"}
    test_clinical = predictions[(predictions["cohort"] == "test") & (predictions["model"] == "clinical")]
    nri = improve_prob(test_fused["outcome"].to_numpy(), test_clinical["probability"].to_numpy(),
                       test_fused["probability"].to_numpy())
    row = reclassification.loc[("test", "fused")]
    assert row["nri"] == pytest.approx(nri.nri.estimate) and row["idi"] == pytest.approx(nri.idi.estimate)
    assert row["nri_low"] < row["nri"] < row["nri_high"]
    sample_size = pd.read_csv(out / "sample_size.csv", dtype={"criterion": str})
    assert {"criterion", "n", "events", "epp"} <= set(sample_size.columns)
    assert "final" in set(sample_size["criterion"])
    # The reporting checklists (issue 30): every item of each, the METRICS score, the participant flow.
    counts = {"tripod_ai": 52, "clear": 58, "metrics": 30}
    for key, rows in counts.items():
        table = pd.read_csv(out / "checklists" / f"{key}.csv", dtype=str, keep_default_na=False)
        assert list(table.columns) == ["item", "section", "status", "where", "evidence"] and len(table) == rows
    assert pd.read_csv(out / "checklists" / "metrics.csv", dtype=str).set_index("item").loc["27", "status"] == \
        "not done"  # no external cohort in this run
    probast = pd.read_csv(out / "checklists" / "probast_ai.csv")
    assert set(probast["concern"]) <= {"low", "high", "unclear"} and len(probast) == 16 + 18
    score = json.loads((out / "checklists" / "metrics_score.json").read_text())
    assert 0 < score["score"] < 100 and score["lost"][0]["points"] >= score["lost"][-1]["points"]
    flow = pd.read_csv(out / "participant_flow.csv")
    assert flow.set_index("stage").loc["Included", "patients"] == 1001


def _pyradiomics_export(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame]:
    """300 patients with leading-zero IDs, and a radiomics table as an older pyradiomics batch writes it:
    path and text metadata columns, a constant column, sporadic missing values and two empty rows."""
    clinical = pd.read_csv(SAMPLE_CLINICAL, dtype={"patient_id": str}).iloc[:300]
    ids = [f"{i:04d}" for i in range(1, 301)]  # 0001 ... 0300 must stay text
    features = pd.read_parquet(SAMPLE_RADIOMICS).loc[clinical["patient_id"]].iloc[:, :150].reset_index(drop=True)
    clinical = clinical.assign(patient_id=ids)
    rng = np.random.default_rng(0)
    for column in features.columns[:5]:
        rows = rng.choice(len(features), 4, replace=False)
        features.loc[rows, column] = np.nan
    features.iloc[[10, 20], :] = np.nan
    export = pd.concat([pd.DataFrame({"Image": [f"/data/{i}/ct.nrrd" for i in ids],
                                      "Mask": [f"/data/{i}/gtv.nrrd" for i in ids],
                                      "general_info_BoundingBox": "(1, 2, 3)", "general_info_Version": "1.2.0",
                                      "diagnostics_Versions_PyRadiomics": "v3.0.1",
                                      "diagnostics_Mask-original_Hash": [f"{i}ab" for i in ids], "ID": ids}),
                        features.assign(original_shape_Flat=7.0)], axis=1)
    clinical_path, features_path = tmp_path / "clinical.csv", tmp_path / "radiomics.csv"
    clinical.to_csv(clinical_path, index=False)
    export.to_csv(features_path, index=False)
    return clinical_path, features_path, export


@pytest.mark.slow
def test_a_real_shaped_pyradiomics_export_with_missing_values_and_an_external_cohort(tmp_path):
    clinical, features, export = _pyradiomics_export(tmp_path)
    external_clinical = pd.read_csv(clinical, dtype={"patient_id": str}).iloc[:80]
    external_clinical.to_csv(tmp_path / "ext.csv", index=False)
    export.iloc[:80].to_csv(tmp_path / "ext_radiomics.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(clinical), "--id", "patient_id", "--outcome", "lm", *SAMPLE_VARIABLES,
                 "--features", f"radiomics={features}", "--external",
                 f"centre B={tmp_path / 'ext.csv'},radiomics={tmp_path / 'ext_radiomics.csv'}",
                 "--missing", "median", "--out", str(out)])
    assert code == 0
    dropped = pd.read_csv(out / "imports.csv")
    assert set(dropped.loc[dropped.reason == "metadata", "column"]) == {
        "Image", "Mask", "general_info_BoundingBox", "general_info_Version", "diagnostics_Versions_PyRadiomics",
        "diagnostics_Mask-original_Hash"}
    assert dropped.loc[dropped.reason == "constant", "column"].tolist() == ["original_shape_Flat"]
    notes = (out / "notes.txt").read_text()
    assert "2 patient(s) have no feature value at all" in notes and "imputed with the training median" in notes
    study = load_study(out / "study")
    assert study.cohort.index[0] == "0001" and "0001" in study.family("radiomics").table.index
    table = pd.read_csv(out / "table2.csv")
    assert set(table["cohort"]) == {"train", "test", "centre B"} and table["auc"].between(0, 1).all()

    # The same external centre with 4 duplicated IDs is refused, the duplicates named, with exit code 2.
    duplicated = pd.concat([export.iloc[:80], export.iloc[:4]])
    duplicated.to_csv(tmp_path / "ext_duplicated.csv", index=False)
    code = main(["--clinical", str(clinical), "--id", "patient_id", "--outcome", "lm", *SAMPLE_VARIABLES,
                 "--features", f"radiomics={features}", "--external",
                 f"centre B={tmp_path / 'ext.csv'},radiomics={tmp_path / 'ext_duplicated.csv'}",
                 "--out", str(tmp_path / "dup")])
    assert code == 2


def test_bad_input_exits_2_with_one_message(tmp_path, capsys):
    assert main(["--clinical", str(SAMPLE_CLINICAL), "--id", "nope", "--outcome", "lm", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nope'" in err[0] and err[0].startswith("error:")
    assert main(["--clinical", str(tmp_path / "missing.csv"), "--id", "a", "--outcome", "b",
                 "--out", str(tmp_path)]) == 2
    assert main(["--clinical", str(SAMPLE_CLINICAL), "--id", "patient_id", "--outcome", "lm", "--features",
                 "radiomics", "--out", str(tmp_path)]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


@pytest.mark.slow
def test_no_test_cohort_evaluates_by_resampling(tmp_path):
    clinical, features, _ = _pyradiomics_export(tmp_path)
    small = pd.read_csv(clinical, dtype={"patient_id": str}).iloc[:90]
    small.to_csv(tmp_path / "small.csv", index=False)
    out = tmp_path / "out"
    assert main(["--clinical", str(tmp_path / "small.csv"), "--id", "patient_id", "--outcome", "lm",
                 "--continuous", "tumour_thickness_mm,cea_ng_ml", "--categorical", "sex", "--features",
                 f"radiomics={features}", "--no-test", "--n-boot", "8", "--missing", "drop", "--out", str(out)]) == 0
    table = pd.read_csv(out / "table2.csv")
    assert set(table["cohort"]) == {"train"}
    validation = pd.read_csv(out / "validation.csv").set_index("model")
    assert {"apparent", "optimism", "corrected", "cv_mean"} <= set(validation.columns)
    study = load_study(out / "study")
    assert not study.has_test and len(study.exclusions) >= 2  # the two empty rows and the sporadic missing


@pytest.mark.slow
@pytest.mark.skipif(not STS.is_dir(), reason="the soft-tissue-sarcoma CT cohort (../shared/data/sts_ct) is not "
                                             "part of a fresh clone")
def test_the_real_sarcoma_ct_cohort_end_to_end_on_a_subset(tmp_path):
    """20 of the 51 real CTs (the least a study takes; CI time, two workers): extraction (original-image
    features), the autoencoder, screening, scores, a clinical + score model, the nomogram and resampling
    validation, from images to a saved study."""
    manifest = pd.read_csv(STS / "manifest.csv")
    clinical = pd.read_csv(STS / "tables" / "clinical_outcome.csv")
    chosen = pd.concat([clinical[clinical.lung_mets == 1].head(10), clinical[clinical.lung_mets == 0].head(10)])
    chosen.to_csv(tmp_path / "clinical.csv", index=False)
    subset = manifest[manifest["patient_id"].isin(chosen["patient_id"])].copy()
    for column in ("image", "mask"):
        subset[column] = [str(STS / p) for p in subset[column]]
    subset.to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(tmp_path / "clinical.csv"), "--id", "patient_id", "--outcome", "lung_mets",
                 "--continuous", "age", "--categorical", "grade", "--images", str(tmp_path / "manifest.csv"),
                 "--params", "original", "--workers", "2", "--deep", "--epochs", "1", "--no-test", "--n-boot", "4",
                 "--clinical-model", "age", "--method", "lasso", "--variance-threshold", "0", "--folds", "3",
                 "--out", str(out)])
    assert code == 0
    study = load_study(out / "study")
    assert study.family_names == ["radiomics", "dl"] and len(study.cohort) == 20
    assert study.family("radiomics").table.shape == (20, 107)
    assert (out / "nomogram_points.csv").is_file() and (out / "validation.csv").is_file()
    timing = json.loads((out / "timing.json").read_text())
    assert timing["fitting"] > 0


@pytest.mark.slow
def test_the_report_of_a_no_test_study_holds_its_internal_validation_and_external_cohort(tmp_path):
    """No test cohort, an external centre: report.html has the bootstrap and CV that were run and the centre scored
    at the training cut-offs; the saved study keeps the run (the dashboard's report and pages have it)."""
    clinical, features, export = _pyradiomics_export(tmp_path)
    table = pd.read_csv(clinical, dtype={"patient_id": str})
    table.iloc[30:120].to_csv(tmp_path / "train.csv", index=False)
    table.iloc[200:280].to_csv(tmp_path / "ext.csv", index=False)
    export.iloc[200:280].to_csv(tmp_path / "ext_radiomics.csv", index=False)
    out = tmp_path / "out"
    assert main(["--clinical", str(tmp_path / "train.csv"), "--id", "patient_id", "--outcome", "lm",
                 "--continuous", "tumour_thickness_mm,cea_ng_ml", "--categorical", "sex", "--features",
                 f"radiomics={features}", "--external",
                 f"centre B={tmp_path / 'ext.csv'},radiomics={tmp_path / 'ext_radiomics.csv'}",
                 "--no-test", "--n-boot", "6", "--cutoff", "fixed=0.35", "--ci", "wilson", "--out", str(out)]) == 0
    report = (out / "report.html").read_text()
    validation = report[report.index("<h2>Internal validation</h2>"):report.index("<h2>External cohorts</h2>")]
    assert "outcome-stratified bootstrap" in validation and "6 resamples" in validation
    assert "optimism-corrected" in validation and "5 x 5-fold" in validation
    external = report[report.index("<h2>External cohorts</h2>"):]
    assert "centre B: 80 patients" in external and "<h3>External performance</h3>" in external
    # The evaluation settings given are the study's: in Table 2, the report and the saved study.
    assert "Fixed probability 0.35" in report and "Wilson" in report and "Youden" not in report
    assert (pd.read_csv(out / "table2.csv")["cutoff"] == 0.35).all()
    study = load_study(out / "study")
    assert (study.evaluation.cutoff_rule, study.evaluation.cutoff_value, study.evaluation.proportion_ci) == \
        ("fixed", 0.35, "wilson")
    run = study.current_validation()
    assert run is not None and run.meta["bootstrap"]["done"] == 6 and len(run.resamples) == 6


@pytest.mark.parametrize("cutoff, message", [("fixed", "needs a value"), ("fixed=abc", "should read youden"),
                                             ("median", "cut-off rule 'median' is not valid"),
                                             ("sensitivity=1.5", "(0, 1]")])
def test_a_bad_cutoff_exits_2_with_one_message(tmp_path, capsys, cutoff, message):
    assert main(["--clinical", str(SAMPLE_CLINICAL), "--id", "patient_id", "--outcome", "lm", "--cutoff", cutoff,
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
