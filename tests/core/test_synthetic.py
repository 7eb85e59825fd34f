"""The synthetic cohort generator: study marginals, determinism, image geometry and thickness."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from core.errors import RadNomoError
from core.cli.synthetic import main
from core.imaging.synthetic import (CLINICAL_COLUMNS, PhenotypeEffects, generate_clinical, generate_cohort,
                                    measure_thickness_mm, render_patient)

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "reference_table1.csv"
SIZES = {"train_nonlm": 475, "train_lm": 226, "test_nonlm": 214, "test_lm": 86}


def _published_targets() -> tuple[dict, dict]:
    """Per-outcome targets from the published Table 1, train and test pooled (computed here, not in core)."""
    ref = pd.read_csv(REFERENCE, comment="#", dtype=str)
    means: dict[tuple[str, int], float] = {}
    proportions: dict[tuple[str, str, int], float] = {}
    for outcome, (train, test) in {0: ("train_nonlm", "test_nonlm"), 1: ("train_lm", "test_lm")}.items():
        for _, row in ref[ref.kind == "mean_sd"].iterrows():
            m1, m2 = float(row[train].split(";")[0]), float(row[test].split(";")[0])
            means[(row.variable, outcome)] = (SIZES[train] * m1 + SIZES[test] * m2) / (SIZES[train] + SIZES[test])
        counts = ref[ref.kind == "count"].copy()
        counts["n"] = counts[train].astype(int) + counts[test].astype(int)
        for variable, group in counts.groupby("variable"):
            for _, row in group.iterrows():
                proportions[(variable, row.level, outcome)] = row.n / group.n.sum()
    return means, proportions


@pytest.fixture(scope="module")
def full_clinical() -> pd.DataFrame:
    return generate_clinical(n=1001, seed=20250601).clinical


def test_outcome_counts_match_the_study(full_clinical):
    assert len(full_clinical) == 1001
    assert full_clinical["lm"].sum() == 312
    assert (full_clinical["lm_type"] == "synchronous").sum() == 192
    assert (full_clinical["lm_type"] == "metachronous").sum() == 120
    assert set(full_clinical.loc[full_clinical.lm == 0, "lm_type"]) == {"none"}
    assert list(full_clinical.columns) == list(CLINICAL_COLUMNS)
    assert full_clinical["patient_id"].is_unique


def test_interval_separates_synchronous_from_metachronous(full_clinical):
    interval = full_clinical.groupby("lm_type")["lm_interval_months"]
    assert interval.max()["synchronous"] < 6 < interval.min()["metachronous"]
    assert full_clinical.loc[full_clinical.lm == 0, "lm_interval_months"].isna().all()


def test_marginals_match_published_table1(full_clinical):
    means, proportions = _published_targets()
    derived = full_clinical.assign(cea_above_5=np.where(full_clinical.cea_ng_ml > 5, "yes", "no"),
                                   ca19_9_above_37=np.where(full_clinical.ca19_9_u_ml > 37, "yes", "no"))
    for (variable, outcome), target in means.items():
        got = derived.loc[derived.lm == outcome, variable].mean()
        assert abs(got - target) <= 0.5, f"{variable} mean in lm={outcome}: {got:.2f} vs {target:.2f}"
    for (variable, level, outcome), target in proportions.items():
        got = (derived.loc[derived.lm == outcome, variable] == level).mean()
        assert abs(got - target) <= 0.03, f"{variable}={level} in lm={outcome}: {got:.3f} vs {target:.3f}"


def test_clinical_signal_is_study_like(full_clinical):
    """Thickness, CEA and CA19-9 separate the outcome about as weakly as in the study (AUC ~ .6-.7 each)."""
    from scipy.stats import mannwhitneyu

    for column in ("tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"):
        lm = full_clinical.loc[full_clinical.lm == 1, column]
        non = full_clinical.loc[full_clinical.lm == 0, column]
        auc = mannwhitneyu(lm, non).statistic / (len(lm) * len(non))
        assert 0.55 < auc < 0.75, (column, auc)


def test_small_cohort_keeps_proportions():
    clinical = generate_clinical(n=200, seed=3).clinical
    assert clinical["lm"].sum() == round(200 * 312 / 1001)
    with pytest.raises(RadNomoError, match="at least 40"):
        generate_clinical(n=10)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_same_seed_gives_byte_identical_files(tmp_path):
    generate_cohort(tmp_path / "a", n=60, seed=11, image_rows=[0, 5])
    generate_cohort(tmp_path / "b", n=60, seed=11, image_rows=[0, 5], workers=2)
    first, second = _digest(tmp_path / "a"), _digest(tmp_path / "b")
    assert first == second
    assert "images/GC0001_ct.nii.gz" in first
    generate_cohort(tmp_path / "c", n=60, seed=12, image_rows=[0, 5])
    assert _digest(tmp_path / "c")["images/GC0001_ct.nii.gz"] != first["images/GC0001_ct.nii.gz"]


def test_different_seed_gives_different_cohort():
    a = generate_clinical(n=60, seed=1).clinical
    b = generate_clinical(n=60, seed=2).clinical
    assert not a.equals(b)


@pytest.mark.slow
def test_patient_images_do_not_depend_on_which_others_are_rendered(tmp_path):
    generate_cohort(tmp_path / "one", n=60, seed=5, image_rows=[3])
    generate_cohort(tmp_path / "two", n=60, seed=5, image_rows=[1, 2, 3])
    name = "images/GC0004_ct.nii.gz"
    assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_cli_writes_tables_and_manifest(tmp_path, capsys):
    assert main(["--n", "50", "--seed", "4", "--out", str(tmp_path), "--no-images"]) == 0
    clinical = pd.read_csv(tmp_path / "clinical.csv")
    manifest = pd.read_csv(tmp_path / "manifest.csv", keep_default_na=False)
    assert list(manifest.columns) == ["ID", "Image", "Mask", "Mask_reader2"]
    assert manifest["ID"].tolist() == clinical["patient_id"].tolist()
    assert (manifest["Mask_reader2"] != "").sum() == round(100 * 50 / 1001)
    assert main(["--n", "5", "--out", str(tmp_path)]) == 2
    assert "at least 40" in capsys.readouterr().err


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Images of six patients spanning thin to thick tumours, two of them double-read."""
    tables = generate_clinical(n=120, seed=21)
    clinical, truth = tables.clinical, tables.truth
    order = clinical["tumour_thickness_mm"].sort_values().index
    rows = sorted({*order[[0, 1, 60, 118, 119]], *np.flatnonzero(truth["double_read"])[:2]})
    out = tmp_path_factory.mktemp("cohort")
    generate_cohort(out, n=120, seed=21, image_rows=rows)
    return out, clinical, truth, rows


@pytest.mark.slow
def test_images_and_masks_share_geometry(rendered):
    out, clinical, truth, rows = rendered
    for row in rows:
        pid = clinical.loc[row, "patient_id"]
        image = sitk.ReadImage(str(out / "images" / f"{pid}_ct.nii.gz"))
        masks = [sitk.ReadImage(str(out / "masks" / f"{pid}_r1.nii.gz"))]
        if truth.loc[row, "double_read"]:
            masks.append(sitk.ReadImage(str(out / "masks" / f"{pid}_r2.nii.gz")))
        assert image.GetPixelID() == sitk.sitkInt16
        spacing = image.GetSpacing()
        assert spacing[2] == pytest.approx(5.0) and 0.6 < spacing[0] == spacing[1] < 0.8
        for mask in masks:
            assert mask.GetSize() == image.GetSize()
            assert np.allclose(mask.GetSpacing(), spacing)
            assert np.allclose(mask.GetOrigin(), image.GetOrigin())
            assert np.allclose(mask.GetDirection(), image.GetDirection())
            assert sitk.GetArrayViewFromImage(mask).sum() > 100


@pytest.mark.slow
def test_tumour_thickness_in_image_matches_clinical_value(rendered):
    out, clinical, _, rows = rendered
    for row in rows:
        pid = clinical.loc[row, "patient_id"]
        mask = sitk.ReadImage(str(out / "masks" / f"{pid}_r1.nii.gz"))
        measured = measure_thickness_mm(sitk.GetArrayFromImage(mask), mask.GetSpacing())
        assert abs(measured - clinical.loc[row, "tumour_thickness_mm"]) <= 2.0, (pid, measured)


@pytest.mark.slow
def test_tumour_is_visible_against_lumen_and_fat(rendered):
    out, clinical, _, rows = rendered
    pid = clinical.loc[rows[-1], "patient_id"]
    ct = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "images" / f"{pid}_ct.nii.gz")))
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "masks" / f"{pid}_r1.nii.gz"))).astype(bool)
    assert 30 < ct[mask].mean() < 140  # enhancing soft tissue
    assert (ct[~mask] < -50).mean() > 0.1  # fat and gas around it


@pytest.mark.slow
def test_second_reader_disagrees_realistically(rendered):
    out, clinical, truth, rows = rendered
    dices = []
    for row in rows:
        if not truth.loc[row, "double_read"]:
            continue
        pid = clinical.loc[row, "patient_id"]
        r1, r2 = (sitk.GetArrayFromImage(sitk.ReadImage(str(out / "masks" / f"{pid}_{r}.nii.gz"))).astype(bool)
                  for r in ("r1", "r2"))
        dices.append(2 * (r1 & r2).sum() / (r1.sum() + r2.sum()))
    assert dices and all(0.7 < d < 0.98 for d in dices), dices


@pytest.mark.slow
def test_phenotype_knobs_reach_the_image():
    tables = generate_clinical(n=60, seed=9, effects=PhenotypeEffects())
    patient, truth = tables.clinical.iloc[0], tables.truth.iloc[0].copy()
    means = {}
    for z in (-2.0, 2.0):
        truth["z_enhancement"] = z
        images = render_patient(patient, truth, seed=9, patient_number=0)
        means[z] = images.ct_hu[images.mask_reader1.astype(bool)].mean()
    assert means[2.0] - means[-2.0] > 25  # 12 HU per z unit, blurred by partial volume and necrosis


def test_lm_patients_have_shifted_phenotype():
    tables = generate_clinical(n=1001, seed=20250601)
    truth = tables.truth.join(tables.clinical[["lm", "lm_type"]])
    effects = PhenotypeEffects()
    means = truth.groupby("lm_type")["z_heterogeneity"].mean()
    # z ~ N(lm_shift * lm + sync_shift * synchronous, 1): group means differ by the shifts (SE ~ 0.1).
    assert means["metachronous"] - means["none"] == pytest.approx(effects.heterogeneity_lm, abs=0.25)
    assert means["synchronous"] - means["none"] == pytest.approx(
        effects.heterogeneity_lm + effects.heterogeneity_sync, abs=0.25)


@pytest.mark.slow
def test_infiltration_shows_outside_the_tumour_mask_only():
    tables = generate_clinical(n=60, seed=9, effects=PhenotypeEffects())
    patient, truth = tables.clinical.iloc[0], tables.truth.iloc[0].copy()
    images = {}
    for z in (-2.0, 2.5):
        truth["z_infiltration"] = z
        images[z] = render_patient(patient, truth, seed=9, patient_number=0)
    low, high = images[-2.0], images[2.5]
    np.testing.assert_array_equal(low.mask_reader1, high.mask_reader1)  # the ROI itself is unchanged
    changed = high.ct_hu.astype(float) - low.ct_hu
    outside = ~low.mask_reader1.astype(bool)
    assert changed[outside].max() > 60  # fat turned hazy, nodes appeared
    assert changed[outside].sum() > 10 * abs(changed[~outside].sum())  # the change lies outside the ROI


def test_later_traits_leave_the_clinical_table_and_earlier_traits_unchanged():
    base = generate_clinical(n=200, seed=4, effects=PhenotypeEffects(infiltration_lm=0.0, infiltration_sync=0.0))
    strong = generate_clinical(n=200, seed=4, effects=PhenotypeEffects(infiltration_lm=2.0, infiltration_sync=1.0))
    pd.testing.assert_frame_equal(base.clinical, strong.clinical)
    pd.testing.assert_frame_equal(base.truth.drop(columns="z_infiltration"),
                                  strong.truth.drop(columns="z_infiltration"))
    assert not base.truth["z_infiltration"].equals(strong.truth["z_infiltration"])


def test_scanner_mix_changes_only_the_scanner_column():
    default = generate_clinical(n=300, seed=5)
    external = generate_clinical(n=300, seed=5, scanner_shares={"SCN-C": 0.5, "SCN-D": 0.5})
    assert set(external.clinical["scanner"]) == {"SCN-C", "SCN-D"}
    pd.testing.assert_frame_equal(default.clinical.drop(columns="scanner"), external.clinical.drop(columns="scanner"))
    with pytest.raises(RadNomoError, match="scanner shares"):
        generate_clinical(n=60, seed=5, scanner_shares={"SCN-X": 1.0})
    assert main(["--n", "60", "--seed", "5", "--out", "/dev/null/x", "--no-images", "--scanner-mix", "A=oops"]) == 2
