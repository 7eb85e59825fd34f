"""ComBat fitted on training rows reproduces neuroCombat and removes scanner effects from new rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.harmonise import ComBat


def _scanner_data(seed: int = 0, n: int = 240, p: int = 30):
    rng = np.random.default_rng(seed)
    scanners = rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2])
    shift = {"A": 0.0, "B": 1.5, "C": -1.0}
    scale = {"A": 1.0, "B": 1.8, "C": 0.6}
    base = rng.normal(size=(n, p)) * rng.uniform(1, 5, p) + rng.uniform(-3, 3, p)
    values = np.array([row * scale[s] + shift[s] * (1 + np.arange(p) / p)
                       for row, s in zip(base, scanners, strict=True)])
    frame = pd.DataFrame(values, columns=[f"f{j}" for j in range(p)], index=[f"P{i}" for i in range(n)])
    return frame, pd.Series(scanners, index=frame.index, name="scanner")


def test_fit_transform_equals_neurocombat_and_apply_equals_its_from_training():
    from neuroCombat import neuroCombat, neuroCombatFromTraining

    X, scanners = _scanner_data()
    train, new = X.index[:180], X.index[180:]
    ours = ComBat().fit(X.loc[train], scanners[train])
    reference = neuroCombat(dat=X.loc[train].to_numpy().T, covars=pd.DataFrame({"batch": scanners[train].to_numpy()}),
                            batch_col="batch")
    np.testing.assert_allclose(ours.transform(X.loc[train], scanners[train]).to_numpy().T, reference["data"],
                               rtol=1e-6, atol=1e-8)
    applied = neuroCombatFromTraining(dat=X.loc[new].to_numpy().T, batch=scanners[new].to_numpy(),
                                      estimates=reference["estimates"])
    np.testing.assert_allclose(ours.transform(X.loc[new], scanners[new]).to_numpy().T, applied["data"],
                               rtol=1e-6, atol=1e-8)


def test_harmonised_scanners_have_equal_means_and_the_model_survives_json():
    X, scanners = _scanner_data(seed=1)
    combat = ComBat().fit(X, scanners)
    harmonised = combat.transform(X, scanners)
    before = X.groupby(scanners).mean().std().mean()
    after = harmonised.groupby(scanners).mean().std().mean()
    assert after < 0.1 * before
    again = ComBat.from_dict(combat.to_dict())
    pd.testing.assert_frame_equal(again.transform(X, scanners), harmonised)


def test_combat_messages():
    X, scanners = _scanner_data(seed=2)
    with pytest.raises(RadNomoError, match="not been fitted"):
        ComBat().transform(X, scanners)
    combat = ComBat().fit(X, scanners)
    with pytest.raises(RadNomoError, match="were not in the training cohort"):
        combat.transform(X, scanners.replace("A", "Z"))
    with pytest.raises(RadNomoError, match="at least two scanners"):
        ComBat().fit(X, np.full(len(X), "A"))
    with pytest.raises(RadNomoError, match="at least 2 per scanner"):
        ComBat().fit(X, np.r_[["A"] * (len(X) - 1), ["B"]])


# ---------------------------------------------------------------------------------------------
# ComBat inside the study pipeline
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanner_study(sample_study):
    """300 sample patients, a slice of each feature family, the first 200 for training; ComBat by scanner."""
    from core.stats.cohort import CohortSplit
    from core.workflows.study import FeatureFamily, ModelSettings

    ids = list(sample_study.cohort.index[:300])
    families = tuple(FeatureFamily(name=f.name, label=f.label, table=f.table.loc[ids].iloc[:, :width], kind=f.kind)
                     for f, width in zip(sample_study.families, (200, 80), strict=True))
    settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=(),
                             harmonise_by="scanner")
    return sample_study.replace(name="scanner study", cohort=sample_study.cohort.loc[ids], families=families,
                                split=CohortSplit(train_ids=tuple(ids[:200]), test_ids=tuple(ids[200:])),
                                settings=settings, is_sample=False)


@pytest.mark.slow
def test_pipeline_harmonises_on_training_only_and_applies_the_same_combat_everywhere(scanner_study):
    from core.stats.harmonise import fit_harmonisers
    from core.workflows.fit import StudyModels, fit_study, predict_study, screen_family
    from core.workflows.study import FeatureFamily

    study = scanner_study
    train, features = study.train_ids, study.feature_tables()
    models = fit_study(study)
    assert set(models.harmonisers) == {"radiomics", "dl"}
    batch = study.cohort["scanner"]
    expected = fit_harmonisers(features, batch, train)
    np.testing.assert_allclose(models.harmonisers["radiomics"].gamma_star, expected["radiomics"].gamma_star)

    # The screening saw harmonised training features: far smaller scanner differences in the means.
    harmonised = models.harmonised(features, study.cohort)
    raw = features["radiomics"].loc[train, harmonised["radiomics"].columns]

    def spread(table):
        return (table.groupby(batch.loc[train]).mean().std() / table.std()).mean()

    assert spread(harmonised["radiomics"].loc[train]) < 0.5 * spread(raw)
    direct = screen_family(study, "radiomics", harmonised)
    assert direct.selected == models.screening["radiomics"].selected
    pd.testing.assert_frame_equal(direct.funnel, models.screening["radiomics"].funnel)

    # Test patients' features never reach the fit: scrambling them changes no coefficient.
    rng = np.random.default_rng(0)
    scrambled = []
    for family in study.families:
        table = family.table.copy()
        table.loc[study.test_ids] = rng.permutation(table.loc[study.test_ids].to_numpy())
        scrambled.append(FeatureFamily(name=family.name, label=family.label, table=table))
    again = fit_study(study.replace(families=tuple(scrambled)))
    for name, score in models.scores.items():
        pd.testing.assert_series_equal(again.scores[name].coefs, score.coefs)

    # Saved as JSON and reopened, the models predict the same for every patient.
    predictions = predict_study(study, models)
    reopened = StudyModels.from_dict(json.loads(json.dumps(models.to_dict())))
    pd.testing.assert_frame_equal(predict_study(study, reopened), predictions)
    # ... and the scores differ from those of the same pipeline without ComBat.
    plain = fit_study(study.with_settings(harmonise_by=None))
    assert not plain.harmonisers
    assert not np.allclose(predict_study(study, plain)["radiomics"], predictions["radiomics"])


def test_harmonisation_needs_the_batch_column_everywhere(scanner_study):
    from core.workflows.fit import fit_study

    study = scanner_study
    with pytest.raises(RadNomoError, match="no such column"):
        fit_study(study.with_settings(harmonise_by="centre"))
    models = fit_study(study)
    with pytest.raises(RadNomoError, match="lacks"):
        models.predict(study.cohort.drop(columns=["scanner"]), study.feature_tables())
    unknown = study.cohort.assign(scanner=study.cohort["scanner"].replace("SCN-A", "SCN-Z"))
    with pytest.raises(RadNomoError, match="SCN-Z"):
        models.predict(unknown, study.feature_tables())
    missing = study.cohort.copy()
    missing.iloc[0, missing.columns.get_loc("scanner")] = None
    with pytest.raises(RadNomoError, match="no 'scanner' value"):
        fit_study(study.replace(cohort=missing))


def test_partial_transform_equals_the_full_one_on_its_columns():
    X, scanners = _scanner_data(seed=2)
    combat = ComBat().fit(X, scanners)
    full = combat.transform(X, scanners)
    part = combat.transform(X[["f3", "f7"]], scanners, partial=True)
    pd.testing.assert_frame_equal(part, full[["f3", "f7"]])
    with pytest.raises(RadNomoError, match="missing"):
        combat.transform(X[["f3"]], scanners)


def test_a_new_patient_is_harmonised_with_the_training_combat(scanner_study):
    from core.workflows.fit import fit_study, predict_study
    from core.workflows.newpatient import needed_features, score_patient

    study = scanner_study
    models = fit_study(study)
    patient = study.test_ids[50]
    features = study.feature_tables()
    values = features["radiomics"].join(features["dl"]).loc[patient, sorted(needed_features(models))]
    clinical = study.cohort.loc[patient].to_dict()
    result = score_patient(models, values, clinical)
    expected = predict_study(study, models).loc[patient]
    for name, value in result.scores.items():
        assert value == pytest.approx(expected[f"{name}_score"], abs=1e-9)
    assert result.probability == pytest.approx(expected["fused"], abs=1e-9)
    with pytest.raises(RadNomoError, match="give the patient's scanner"):
        score_patient(models, values, {**clinical, "scanner": None})


def test_a_family_covering_only_some_patients_is_harmonised_on_those_it_has():
    """The issue's crash: a KeyError in fit_harmonisers once one family lacks some training patients."""
    from core.stats.harmonise import apply_harmonisers, coverage_notes, fit_harmonisers

    X, scanners = _scanner_data()
    train = list(X.index[:180])
    partial = X.drop(index=train[::4])  # a family without a quarter of the training patients
    tables = {"radiomics": X, "deep": partial}
    fitted = fit_harmonisers(tables, scanners, train)
    on_those = ComBat().fit(partial.loc[[i for i in train if i in partial.index]],
                            scanners.loc[[i for i in train if i in partial.index]])
    np.testing.assert_allclose(fitted["deep"].gamma_star, on_those.gamma_star)
    notes = coverage_notes(tables, train)
    assert notes == ["deep: ComBat was fitted on the 135 of 180 training patients with deep features; the other 45 "
                     "are left out of it (they have no deep features to harmonise)."]
    applied = apply_harmonisers(fitted, tables, scanners)
    assert applied["deep"].index.equals(partial.index) and applied["radiomics"].index.equals(X.index)
    # Too few patients of a scanner among those the family has: a plain message naming the family.
    few = X.drop(index=[i for i in train if scanners[i] == "C"][1:])
    with pytest.raises(RadNomoError, match="deep features .* training patients.*scanner 'C' has 1"):
        fit_harmonisers({"deep": few}, scanners, train)


@pytest.mark.slow
def test_a_study_family_covering_only_some_patients_fits_with_combat_and_says_so(sample_study):
    import dataclasses

    from core.workflows.fit import fit_study

    dl = sample_study.family("dl")
    partial = dataclasses.replace(dl, table=dl.table.drop(index=list(sample_study.train_ids[:30])))
    models = fit_study(sample_study.with_family(partial).with_settings(harmonise_by="scanner"))
    assert any(n.startswith("dl: ComBat was fitted on the 670 of 700 training patients") for n in models.notes)
    assert "radiomics" in models.harmonisers and "dl" in models.harmonisers
