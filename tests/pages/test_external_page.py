"""AppTest of the External validation page: training, test and subgroups in one panel; an external cohort added."""

from __future__ import annotations

import pytest

from tests.pages.apptest_helpers import dataframe_with, open_page


@pytest.mark.slow
def test_panel_with_subgroups_and_an_external_cohort_from_the_data_root(workspace, monkeypatch, tmp_path):
    from core.workflows.sample import SAMPLE_DEEP, SAMPLE_RADIOMICS, load_sample_cohort

    # An "external" cohort: 120 sample patients' tables placed in a data root (the real external sample
    # cohort comes with the external-validation issue's generated data).
    root = tmp_path / "root"
    root.mkdir()
    cohort = load_sample_cohort().sample(120, random_state=1)
    cohort.to_csv(root / "ext_clinical.csv", index=False)
    import pandas as pd

    pd.read_parquet(SAMPLE_RADIOMICS).loc[cohort["patient_id"]].to_parquet(root / "ext_radiomics.parquet")
    pd.read_parquet(SAMPLE_DEEP).loc[cohort["patient_id"]].to_parquet(root / "ext_deep.parquet")
    monkeypatch.setenv("RADNOMO_DATA_ROOT", str(root))

    at = open_page("pages/external.py", timeout=300)
    assert not at.error
    at.multiselect(key="ext_subgroups").set_value(["scanner"]).run()
    panel = dataframe_with(at, "group", "model", "AUC", "calibration slope")
    assert {"train", "test"} <= set(panel["group"]) and any(g.startswith("test, scanner") for g in panel["group"])

    at.radio(key="ext_source").set_value("Files inside the data root").run()
    at.text_input(key="ext_clinical_path").input("ext_clinical.csv")
    at.text_input(key="ext_radiomics_path").input("ext_radiomics.parquet")
    at.text_input(key="ext_dl_path").input("ext_deep.parquet").run()
    at.button(key="ext_add_server").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Added External 1: 120 patients" in at.success[0].value
    panel = dataframe_with(at, "group", "model", "AUC", "calibration slope")
    assert "External 1" in set(panel["group"])

    at.text_input(key="ext_clinical_path").input("../../etc/passwd")
    at.button(key="ext_add_server").click().run()
    assert any("outside" in e.value or "data root" in e.value for e in at.error)


@pytest.mark.slow
def test_the_sample_external_centre_with_and_without_combat(workspace):
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR

    at = open_page("pages/external.py", timeout=600)
    at.button(key="ext_add_sample").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    external = next(s.value for s in at.success if s.value.startswith("Added External centre"))
    n = len(open(SAMPLE_EXTERNAL_DIR / "clinical.csv").read().splitlines()) - 1
    assert f"{n} patients" in external
    panel = dataframe_with(at, "group", "model", "AUC", "ACC", "SENS", "SPEC", "PPV", "NPV", "Brier",
                           "calibration-in-the-large",
                           "calibration slope")
    rows = panel[panel["group"] == "External centre"]
    assert len(rows) == 5 and rows[["Brier", "calibration slope"]].notna().all().all()
    assert "External centre" in at.multiselect(key="ext_figure_groups").value  # drawn as soon as it is added

    at.toggle(key="ext_compare_combat").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    comparison = dataframe_with(at, "as extracted", "ComBat by scanner")
    assert comparison.notna().all().all() and len(comparison) == 15  # 3 cohorts x 5 models


@pytest.mark.slow
def test_combat_with_a_family_covering_only_some_patients_says_so_and_never_crashes(workspace):
    """The issue's crash: a KeyError in fit_harmonisers once a family lacks some training patients."""
    import dataclasses

    from streamlit.testing.v1 import AppTest

    from core.workflows.sample import sample_study
    from tests.pages.apptest_helpers import APP

    study = sample_study()
    dl = study.family("dl")
    missing = [*study.train_ids[:30], *study.test_ids[:40]]
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["study"] = study.with_family(dataclasses.replace(dl, table=dl.table.drop(index=missing)))
    at.run()
    at.switch_page("pages/external.py").run()
    at.button(key="ext_add_sample").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.toggle(key="ext_compare_combat").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("ComBat was fitted on the 670 of 700 training patients with dl features" in c.value
               for c in at.caption), [c.value for c in at.caption]
    comparison = dataframe_with(at, "as extracted", "ComBat by scanner")
    assert len(comparison) and comparison.notna().all().all()


@pytest.mark.slow
def test_an_external_patient_far_outside_the_training_range_is_listed_with_both_calibrations(
        workspace, monkeypatch, tmp_path, sample_study, sample_models):
    from core.vocabulary import CALIBRATION_SUBSETS
    from core.io.tables import read_table
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables

    root = tmp_path / "root"
    root.mkdir()
    clinical = read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv")
    clinical.to_csv(root / "clinical.csv", index=False)
    tables = sample_external_tables()
    feature = sample_models.scores["radiomics"].coefs.idxmax()
    patient = str(clinical.loc[clinical["lm"] == 0, "patient_id"].iloc[0])
    radiomics = tables["radiomics"].copy()
    radiomics.loc[patient, feature] = 12 * sample_study.family("radiomics").table.loc[sample_study.train_ids,
                                                                                     feature].max()
    radiomics.to_parquet(root / "radiomics.parquet")
    tables["dl"].to_parquet(root / "dl.parquet")
    monkeypatch.setenv("RADNOMO_DATA_ROOT", str(root))

    at = open_page("pages/external.py", timeout=300)
    at.radio(key="ext_source").set_value("Files inside the data root").run()
    at.text_input(key="ext_clinical_path").input("clinical.csv")
    at.text_input(key="ext_radiomics_path").input("radiomics.parquet")
    at.text_input(key="ext_dl_path").input("dl.parquet").run()
    at.button(key="ext_add_server").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("External 1: 1 patient(s) outside the training range" in w.value for w in at.warning)
    listed = dataframe_with(at, "reason", "features", "extreme_risk")
    assert list(listed.index) == [patient] and feature in listed.loc[patient, "features"]
    calibration = dataframe_with(at, "patients", "calibration-in-the-large", "calibration slope")
    label = at.session_state["study"].model_labels()["radiomics"]
    radiomics_rows = calibration[calibration["model"] == label].set_index("patients")
    assert set(radiomics_rows.index) == set(CALIBRATION_SUBSETS.values())
    assert radiomics_rows.loc[CALIBRATION_SUBSETS["all"], "calibration slope"] < \
        0.5 * radiomics_rows.loc[CALIBRATION_SUBSETS["within"], "calibration slope"]
    # The cohort without them is a group of the figures too.
    without = f"External 1 ({CALIBRATION_SUBSETS['within'].lower()})"
    assert {"External 1", without} <= set(at.multiselect(key="ext_figure_groups").value)  # drawn with and without
    at.multiselect(key="ext_figure_groups").set_value([without]).run()
    assert not at.exception and not at.error
