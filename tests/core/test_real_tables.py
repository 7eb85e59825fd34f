"""Real feature tables and real mess: imports that recognise metadata, the missing-value policy fitted on
training only, scale awareness, screening alternatives and the leak check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.feature_tables import import_feature_table, scale_check
from core.stats.missing import Imputer, MissingPolicy, missing_by_column, missing_by_patient
from core.stats.selection import ScreeningSettings, mrmr, screen, univariable_auc
from core.workflows.fit import fit_study, predict_study
from core.workflows.study import FeatureFamily


def _table(n=60, p=12, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"{i:03d}" for i in range(n)]
    return ids, pd.DataFrame(rng.normal(5, 2, (n, p)), index=pd.Index(ids, name="ID"),
                             columns=[f"original_firstorder_F{j}" for j in range(p)])


def test_import_recognises_metadata_text_constant_and_empty_columns_and_foreign_rows():
    ids, features = _table()
    raw = features.reset_index().assign(diagnostics_Versions_PyRadiomics="v3", general_info_Spacing="(1, 1, 1)",
                                        Image="/x.nrrd", comment="see report", flat=2.0, empty=np.nan)
    raw = pd.concat([raw, raw.iloc[:1].assign(ID="foreign")], ignore_index=True)
    raw.loc[3, "original_firstorder_F0"] = np.nan
    result = import_feature_table(raw, ids)
    assert list(result.table.columns) == list(features.columns) and list(result.table.index) == ids
    reasons = result.dropped.set_index("column")["reason"].to_dict()
    assert reasons == {"diagnostics_Versions_PyRadiomics": "metadata", "general_info_Spacing": "metadata",
                       "Image": "metadata", "comment": "text", "empty": "no value", "flat": "constant"}
    assert result.foreign_ids == ("foreign",) and result.missing_values == 1
    assert any("constant" in n for n in result.notes) and any("not in the cohort" in n for n in result.notes)
    with pytest.raises(RadNomoError, match="duplicated ID"):
        import_feature_table(pd.concat([raw, raw.iloc[:2]]), ids)


def test_imputer_is_fitted_on_training_rows_and_applied_unchanged():
    _, table = _table()
    train, test = table.iloc[:40].copy(), table.iloc[40:].copy()
    train.iloc[:30, 0] = np.nan  # 75 % missing: dropped at max_missing 0.2
    train.iloc[0, 1] = np.nan
    test.iloc[0, 1] = np.nan
    imputer = Imputer.fit(train, MissingPolicy(strategy="median", max_missing=0.2))
    assert imputer.dropped_ == (table.columns[0],)
    filled = imputer.transform(test)
    assert table.columns[0] not in filled and filled.iloc[0, 0] == pytest.approx(train.iloc[:, 1].median())
    # test values never move the fill: scrambling them changes nothing learned
    again = Imputer.fit(train, MissingPolicy(strategy="median", max_missing=0.2))
    assert again.fill_ == imputer.fill_ and Imputer.from_dict(imputer.to_dict()).fill_ == imputer.fill_
    with pytest.raises(RadNomoError, match="imputes nothing"):
        Imputer.fit(train, MissingPolicy(strategy="none"))


@given(st.lists(st.floats(-1e3, 1e3), min_size=5, max_size=30), st.sampled_from(["median", "mean"]))
def test_imputation_fills_with_the_training_statistic(values, strategy):
    train = pd.DataFrame({"x": values + [np.nan]})
    imputer = Imputer.fit(train, MissingPolicy(strategy=strategy, max_missing=1.0))
    expected = np.median(values) if strategy == "median" else np.mean(values)
    assert imputer.transform(train)["x"].iloc[-1] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_missing_reports_per_column_and_patient():
    _, table = _table(n=10, p=3)
    table.iloc[2, 0] = table.iloc[2, 1] = table.iloc[5, 1] = np.nan
    assert missing_by_column(table)["n_missing"].to_dict() == {table.columns[1]: 2, table.columns[0]: 1}
    assert missing_by_patient(table).index[0] == "002"
    # The reports name their own index; the caller's table keeps its index name.
    table.index.name = "pid"
    missing_by_patient(table)
    missing_by_column(table)
    assert table.index.name == "pid" and table.columns.name is None


def test_scale_check_names_z_scored_and_bounded_tables():
    _, table = _table(n=200)
    z = (table - table.mean()) / table.std()  # z-scored with the sample SD, as shared data sets are
    check = scale_check(z)
    assert check.kind == "standardised" and check.removed == z.shape[1] and "remove all" in check.warning
    bounded = (table - table.min()) / (table.max() - table.min())
    assert scale_check(bounded).kind == "bounded"
    assert scale_check(table).warning is None
    # the funnel says why, and the min-max scale keeps what the raw threshold would drop
    y = (z.iloc[:, 0] + np.random.default_rng(1).normal(size=200) > 0).astype(int)
    raw = screen(z, y, ScreeningSettings())
    assert raw.funnel["n_features"].iloc[1] == 0 and any("z-scored" in n for n in raw.notes)
    assert raw.funnel.loc[1, "why"] == "variance <= 1 on the raw values"
    scaled = screen(z, y, ScreeningSettings(variance_scale="minmax", variance_threshold=0.001))
    assert scaled.funnel["n_features"].iloc[1] == z.shape[1]


@pytest.mark.parametrize("method", ["study", "test_first", "auc", "mrmr", "lasso"])
def test_every_screening_method_runs_and_reports_its_steps(method):
    rng = np.random.default_rng(3)
    n = 200
    y = (rng.random(n) < 0.4).astype(int)
    X = pd.DataFrame(rng.normal(size=(n, 30)) * 3, columns=[f"f{j}" for j in range(30)])
    X["signal"] = y * 3 + rng.normal(size=n) * 2
    X["twin"] = X["signal"] + rng.normal(size=n) * 0.1
    result = screen(X, y, ScreeningSettings(method=method, mrmr_features=5))
    counts = result.funnel["n_features"].tolist()
    assert counts == sorted(counts, reverse=True) and result.funnel["why"].iloc[1:].str.len().gt(0).all()
    assert set(result.selected) & {"signal", "twin"}
    assert set(result.reaching_lasso) <= set(result.univariable.index)


def test_mrmr_prefers_relevant_features_and_avoids_their_twins():
    rng = np.random.default_rng(5)
    n = 300
    y = (rng.random(n) < 0.5).astype(int)
    a = y + rng.normal(size=n) * 0.7
    X = pd.DataFrame({"a": a, "a_twin": a + rng.normal(size=n) * 0.01, "b": y + rng.normal(size=n),
                      "noise": rng.normal(size=n)})
    chosen = mrmr(X, y, 2)
    assert chosen[0] in ("a", "a_twin") and chosen[1] == "b"
    auc = univariable_auc(X, y)
    from sklearn.metrics import roc_auc_score

    assert auc["b"] == pytest.approx(roc_auc_score(y, X["b"]))


@pytest.mark.slow
def test_missing_values_through_the_whole_study(sample_study):
    study = sample_study.without_family("dl").replace(name="with gaps", is_sample=False)
    family = study.family("radiomics")
    table = family.table.copy()
    table.iloc[:5, :10] = np.nan  # five patients lack ten features
    cohort = study.cohort.copy()
    cohort.iloc[:3, cohort.columns.get_loc("cea_ng_ml")] = np.nan
    gappy = study.replace(cohort=cohort, families=(FeatureFamily(name="radiomics", label="Radiomics", table=table),))
    models = fit_study(gappy)
    assert any("imputed with the training median" in n for n in models.notes)
    predictions = predict_study(gappy, models)
    assert predictions.notna().all().all()  # nobody silently left without a prediction
    with pytest.raises(RadNomoError, match="imputes nothing"):
        fit_study(gappy.with_settings(missing=MissingPolicy(strategy="none")))
    dropped = gappy.without_patients(list(cohort.index[:5]), "a missing value")
    assert len(dropped.cohort) == len(cohort) - 5 and dropped.exclusions[0] == (cohort.index[0], "a missing value")
    assert fit_study(dropped.with_settings(missing=MissingPolicy(strategy="none"))).clinical is not None


def test_a_column_that_restates_the_outcome_is_flagged(sample_study):
    from core.workflows.checks import possible_leaks

    leaks = possible_leaks(sample_study)
    assert "lm_type" in set(leaks["column"])
    leaky = sample_study.replace(cohort=sample_study.cohort.assign(status=sample_study.outcome.map({0: "NED", 1: "D"})))
    assert "status" in set(possible_leaks(leaky)["column"])
