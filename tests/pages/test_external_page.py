"""AppTest of the External validation page: training, test and subgroups in one panel; an external cohort added."""

from __future__ import annotations

from tests.pages.apptest_helpers import dataframe_with, open_page


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


def test_the_sample_external_centre_with_and_without_combat(workspace):
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR

    at = open_page("pages/external.py", timeout=600)
    at.button(key="ext_add_sample").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    external = next(s.value for s in at.success if s.value.startswith("Added External centre"))
    n = len(open(SAMPLE_EXTERNAL_DIR / "clinical.csv").read().splitlines()) - 1
    assert f"{n} patients" in external
    panel = dataframe_with(at, "group", "model", "AUC", "ACC", "SENS", "SPEC", "PPV", "NPV", "Brier",
                           "calibration intercept",
                           "calibration slope")
    rows = panel[panel["group"] == "External centre"]
    assert len(rows) == 5 and rows[["Brier", "calibration slope"]].notna().all().all()
    assert "External centre" in at.multiselect(key="ext_figure_groups").value  # drawn as soon as it is added

    at.toggle(key="ext_compare_combat").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    comparison = dataframe_with(at, "as extracted", "ComBat by scanner")
    assert comparison.notna().all().all() and len(comparison) == 15  # 3 cohorts x 5 models
