"""The command lines other than core.cli.analyse on a saved time-to-event study: core.cli.external (an external cohort
scored by the saved study's frozen models: its time and event columns read, Harrell's C per cohort),
core.cli.validation (bootstrap and repeated CV of a saved study) and core.cli.reproduce (a saved study refitted from
its own data and settings, its predictions compared with the saved models').

Fast: the arguments refused before anything runs, and the 300-patient survival study of test_survival_persistence
(saved with its models once per module; a fit takes a few seconds) through external and reproduce. Slow: the
validation run kept in the saved study, and the whole survival sample study (1001 patients) end to end.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cli.external import main as external_main
from core.cli.reproduce import main as reproduce_main
from core.cli.validation import main as validation_main
from core.workflows.external import cohort_concordance, read_sample_external, study_cohorts, validate_external
from core.workflows.fit import fit_study
from core.workflows.persistence import STUDY_FILE, load_study, load_study_models, save_study
from core.workflows.reproduce import REPRODUCED_TOLERANCE, compare_predictions
from core.workflows.sample import SAMPLE_EXTERNAL_DIR
from tests.core.test_survival_persistence import small_survival_study


@pytest.fixture(scope="module")
def saved(sample_study, tmp_path_factory):
    """The 300-patient survival study saved with its fitted models: (folder, study, models)."""
    study = small_survival_study(sample_study)
    models = fit_study(study)
    return save_study(study, tmp_path_factory.mktemp("cli") / "study", models), study, models


# -- arguments refused before anything runs -------------------------------------------------------


def test_a_folder_without_a_study_is_refused_by_each_command_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert external_main(["--study", str(empty)]) == 2
    assert "is not a saved study (it has no study.json)" in capsys.readouterr().err
    assert validation_main(["--out", str(tmp_path / "run"), "--study", str(empty), "--scheduler", "serial"]) == 2
    assert "is not a saved study" in capsys.readouterr().err and not (tmp_path / "run").exists()
    assert reproduce_main(["--out", str(tmp_path / "rep"), "--study", str(empty)]) == 2
    assert "is not a saved study" in capsys.readouterr().err


def test_an_external_folder_without_its_clinical_table_is_refused(tmp_path, capsys):
    assert external_main(["--external", str(tmp_path)]) == 2
    assert "has no clinical.csv" in capsys.readouterr().err


def test_keeping_a_validation_run_needs_a_saved_study(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        validation_main(["--out", str(tmp_path / "run"), "--save-in-study"])
    assert exited.value.code == 2 and "--save-in-study needs --study" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_compare_predictions_says_what_differs():
    saved = pd.DataFrame({"clinical": [0.1, 0.2, np.nan], "clinical@surv_12": [0.9, 0.8, np.nan]},
                         index=["a", "b", "c"])
    same = compare_predictions(saved.iloc[::-1] + 1e-9, saved)  # row order and summation noise do not matter
    assert same["reproduced"].all() and same["patients"].tolist() == [2, 2]
    moved = compare_predictions(saved.assign(clinical=saved["clinical"] + 10 * REPRODUCED_TOLERANCE), saved)
    assert moved.set_index("column")["reproduced"].to_dict() == {"clinical": False, "clinical@surv_12": True}
    filled = compare_predictions(saved.fillna(0.5), saved)  # a patient without a prediction got one
    assert not filled["same_patients"].any() and not filled["reproduced"].any()
    other = compare_predictions(saved.rename(columns={"clinical": "fused"}), saved)
    assert set(other.loc[~other["reproduced"], "column"]) == {"clinical", "fused"}


# -- the 300-patient survival study ----------------------------------------------------------------


def test_the_external_command_scores_the_cohort_with_the_saved_frozen_models(saved, tmp_path, capsys):
    folder, study, models = saved
    out, table2 = tmp_path / "c.csv", tmp_path / "table2.csv"
    assert external_main(["--study", str(folder), "--name", "Centre B", "--out", str(out),
                          "--table2", str(table2)]) == 0
    printed = capsys.readouterr().out
    assert "Harrell's C" in printed and "as saved (no ComBat)" in printed and "fitting them" not in printed
    table = pd.read_csv(out)
    assert set(table["cohort"]) == {"train", "test", "Centre B"} and set(table["model"]) == set(models.model_names)
    # the same numbers as helper D's cohort_concordance on the same frozen models and the same external cohort
    clinical, tables = read_sample_external(study.spec.outcome)
    external = validate_external(study, "Centre B", clinical, {"radiomics": tables["radiomics"]}, models)
    expected = cohort_concordance(models, {**study_cohorts(study), "Centre B": (external.cohort, external.tables)},
                                  study.spec.outcome)
    pd.testing.assert_frame_equal(table.drop(columns="harmonisation"), expected, check_dtype=False, rtol=1e-12)
    assert int(table.loc[table["cohort"] == "Centre B", "events"].iloc[0]) == external.n_events(study.spec.outcome)
    full = pd.read_csv(table2)
    assert {"c_index", "uno_c", "auc_12", "auc_60", "sensitivity_36"} <= set(full.columns)
    assert set(full["cohort"]) == {"train", "test", "Centre B"}


def test_an_external_cohort_without_its_follow_up_is_refused(saved, tmp_path, capsys):
    folder, _, _ = saved
    external = tmp_path / "centre"
    external.mkdir()
    shutil.copy(SAMPLE_EXTERNAL_DIR / "clinical.csv", external / "clinical.csv")  # no survival.csv beside it
    shutil.copy(SAMPLE_EXTERNAL_DIR / "features_radiomics.parquet", external / "features_radiomics.parquet")
    assert external_main(["--study", str(folder), "--external", str(external)]) == 2
    assert "os_months" in capsys.readouterr().err


def test_the_external_command_refuses_edited_saved_models(saved, tmp_path, capsys):
    folder = Path(shutil.copytree(saved[0], tmp_path / "edited"))
    description = json.loads((folder / STUDY_FILE).read_text())
    path = folder / description["models"]
    values = json.loads(path.read_text())
    baseline = values["models"]["clinical"]["model"]["baseline"]
    baseline["hazard"] = [v * 1.5 for v in baseline["hazard"]]
    path.write_text(json.dumps(values))
    description["files"][description["models"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / STUDY_FILE).write_text(json.dumps(description))
    assert external_main(["--study", str(folder)]) == 2
    assert "no longer reproduce their own clinical@surv_12 predictions" in capsys.readouterr().err


def test_the_reproduce_command_refits_the_saved_survival_study_and_matches_its_models(saved, tmp_path, capsys):
    folder, study, models = saved
    assert reproduce_main(["--study", str(folder), "--out", str(tmp_path)]) == 0
    assert "Reproduced" in capsys.readouterr().out
    reproduced = pd.read_csv(tmp_path / "reproduced.csv")
    assert reproduced["reproduced"].all()
    assert set(reproduced["column"]) >= {"clinical", "clinical@surv_36", "radiomics_score"}
    table2 = pd.read_csv(tmp_path / "table2.csv")
    assert {"c_index", "c_low", "c_high", "auc_36"} <= set(table2.columns)
    assert set(table2["cohort"]) == {"train", "test"} and set(table2["model"]) == set(models.model_names)


def test_the_reproduce_command_says_when_a_refit_differs(saved, tmp_path, capsys, monkeypatch):
    """A refit that predicts otherwise than the saved models (here: other settings' refit) exits 1 and names it."""
    import core.workflows.reproduce as reproduce_module

    folder, _, _ = saved

    def shifted(study):  # the pipeline as it would be with one more clinical variable
        return fit_study(study.with_settings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml", "age")))

    monkeypatch.setattr(reproduce_module, "fit_study", shifted)
    assert reproduce_main(["--study", str(folder), "--out", str(tmp_path)]) == 1
    assert "NOT reproduced" in capsys.readouterr().out
    reproduced = pd.read_csv(tmp_path / "reproduced.csv").set_index("column")
    assert not reproduced.loc["clinical", "reproduced"] and reproduced.loc["radiomics_score", "reproduced"]


@pytest.mark.slow
def test_the_validation_command_runs_on_a_saved_survival_study_and_keeps_the_run(saved, tmp_path, capsys):
    folder = Path(shutil.copytree(saved[0], tmp_path / "study"))
    assert validation_main(["--out", str(tmp_path / "run"), "--study", str(folder), "--n-boot", "10", "--folds", "3",
                            "--repeats", "1", "--seed", "7", "--scheduler", "serial", "--save-in-study"]) == 0
    printed = capsys.readouterr().out
    assert "C-index" in printed and "kept in the saved study" in printed
    optimism = pd.read_csv(tmp_path / "run" / "optimism.csv")
    assert "measure" in optimism.columns and "C-index" in set(optimism["measure"])
    again = load_study(folder)
    run = again.current_validation()
    assert run is not None and "measure" in run.optimism.columns and run.meta["bootstrap"]["seed"] == 7
    pd.testing.assert_frame_equal(run.optimism.reset_index(), optimism, check_dtype=False, rtol=1e-12)
    assert load_study_models(folder, again) is not None  # the saved models kept, unchanged


@pytest.mark.slow
def test_the_survival_sample_study_through_the_command_lines(tmp_path, capsys):
    """The 1001-patient survival sample: saved with its fit, its frozen models on the sample's external centre (its
    follow-up joined from survival.csv), then refitted from the saved folder and compared with the saved models."""
    from core.workflows.sample import sample_survival_study

    study = sample_survival_study()
    models = fit_study(study)
    folder = save_study(study, tmp_path / "study", models)
    assert external_main(["--study", str(folder), "--out", str(tmp_path / "c.csv")]) == 0
    table = pd.read_csv(tmp_path / "c.csv")
    assert set(table["cohort"]) == {"train", "test", "external"} and len(table) == 15
    assert table["c_index"].between(0.5, 1).all() and (table["events"] > 0).all()
    capsys.readouterr()
    assert reproduce_main(["--study", str(folder), "--out", str(tmp_path / "rep")]) == 0
    assert pd.read_csv(tmp_path / "rep" / "reproduced.csv")["reproduced"].all()
