"""Selection: reader agreement (ICC) against pingouin; screening steps against caret, scikit-learn and scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.stats.selection import icc_table


def _readers(seed: int, n: int = 25, features: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, features)) * rng.uniform(0.5, 5, features)
    ids = [f"P{i}" for i in range(n)]
    columns = [f"f{j}" for j in range(features)]
    first = pd.DataFrame(truth + rng.normal(0, 0.6, truth.shape), index=ids, columns=columns)
    second = pd.DataFrame(truth + 0.4 + rng.normal(0, 0.6, truth.shape), index=ids, columns=columns)
    return first, second


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_icc_equals_pingouin(seed):
    import pingouin

    first, second = _readers(seed)
    ours = icc_table(first, second)
    for feature in first.columns:
        long = pd.DataFrame({"case": list(first.index) * 2, "reader": ["r1"] * len(first) + ["r2"] * len(first),
                             "value": np.r_[first[feature], second[feature]]})
        reference = pingouin.intraclass_corr(long, targets="case", raters="reader", ratings="value")
        # pingouin 0.7 names them McGraw & Wong style: ICC(1,1), ICC(A,1) (= ICC2), ICC(C,1) (= ICC3).
        reference = reference.set_index("Type")["ICC"]
        assert ours.loc[feature, "ICC1"] == pytest.approx(reference["ICC(1,1)"], abs=1e-10)
        assert ours.loc[feature, "ICC2"] == pytest.approx(reference["ICC(A,1)"], abs=1e-10)
        assert ours.loc[feature, "ICC3"] == pytest.approx(reference["ICC(C,1)"], abs=1e-10)


def test_cases_are_matched_by_index_and_features_by_name():
    first, second = _readers(3)
    shuffled = second.sample(frac=1.0, random_state=0)[second.columns[::-1]]
    pd.testing.assert_frame_equal(icc_table(first, second), icc_table(first, shuffled))


def test_identical_readers_agree_perfectly_and_constant_features_are_nan():
    first, _ = _readers(4)
    first["constant"] = 1.0
    table = icc_table(first, first.copy())
    assert np.allclose(table.drop(index="constant").to_numpy(), 1.0)
    assert table.loc["constant"].isna().all()


def test_too_few_cases_or_no_shared_features():
    first, second = _readers(5)
    with pytest.raises(RadNomoError, match="at least 3"):
        icc_table(first.head(2), second.head(2))
    with pytest.raises(RadNomoError, match="share no feature"):
        icc_table(first, second.add_prefix("x_"))


@given(st.floats(0.1, 100), st.floats(-50, 50))
def test_icc3_is_invariant_to_a_reader_offset_and_scale_of_both(scale, offset):
    first, second = _readers(6)
    base = icc_table(first, second)
    moved = icc_table(first * scale, second * scale + offset)
    assert np.allclose(base["ICC3"], moved["ICC3"], atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Screening steps
# ---------------------------------------------------------------------------------------------

REFERENCE = Path(__file__).resolve().parents[1] / "reference"


@pytest.mark.parametrize("case", ["small", "wide"])
@pytest.mark.parametrize("exact", [True, False])
def test_drop_correlated_matches_caret_findcorrelation(case, exact):
    from core.stats.selection import drop_correlated

    data = pd.read_csv(REFERENCE / f"caret_findcorrelation_{case}.csv")
    answers = pd.read_csv(REFERENCE / "caret_findcorrelation_removed.csv", keep_default_na=False)
    expected = answers[(answers.case == case) & (answers.exact == exact)].removed.iloc[0].split(";")
    kept = drop_correlated(data, threshold=0.7, method="spearman", exact=exact)
    assert sorted(set(data.columns) - set(kept)) == sorted(expected)
    assert kept == [c for c in data.columns if c in kept]  # original order


def test_drop_correlated_default_follows_caret_size_rule():
    from core.stats.selection import drop_correlated

    small = pd.read_csv(REFERENCE / "caret_findcorrelation_small.csv")
    assert drop_correlated(small) == drop_correlated(small, exact=True)
    with pytest.raises(RadNomoError, match="constant"):
        drop_correlated(small.assign(flat=1.0))


def test_variance_filter_uses_population_variance():
    from sklearn.feature_selection import VarianceThreshold

    from core.stats.selection import variance_filter

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(0, [0.5, 0.99, 1.01, 3.0], size=(40, 4)), columns=list("abcd"))
    expected = list(X.columns[VarianceThreshold(1.0).fit(X).get_support()])
    assert variance_filter(X, 1.0) == expected


@pytest.mark.parametrize("test", ["student", "welch", "mannwhitney"])
def test_univariable_tests_equal_scipy_per_column(test):
    from scipy import stats as sps

    from core.stats.selection import univariable_tests

    first, _ = _readers(7, n=40)
    y = pd.Series(np.arange(40) % 3 == 0, index=first.index).astype(int)
    table = univariable_tests(first, y, test=test)
    for column in first.columns:
        a, b = first.loc[y == 0, column], first.loc[y == 1, column]
        if test == "mannwhitney":
            expected = sps.mannwhitneyu(a, b, alternative="two-sided").pvalue
        else:
            expected = sps.ttest_ind(a, b, equal_var=test == "student").pvalue
        assert table.loc[column, "p_value"] == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# The screening pipeline and selection stability
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def screening_data():
    rng = np.random.default_rng(5)
    n = 200
    signal = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * signal))).astype(int)
    columns = {"strong": signal * 5 + rng.normal(0, 1, n), "twin": signal * 5 + rng.normal(0, 1, n),
               "weak": signal * 2 + rng.normal(0, 4, n), "flat": rng.normal(0, 0.5, n),
               "empty": np.full(n, np.nan)}
    columns.update({f"noise{j}": rng.normal(0, 3, n) for j in range(20)})
    return pd.DataFrame(columns, index=[f"P{i}" for i in range(n)]), pd.Series(y, index=[f"P{i}" for i in range(n)])


def test_screen_runs_the_steps_in_order_and_reports_each_count(screening_data):
    from core.stats.selection import ScreeningSettings, drop_correlated, screen, univariable_tests, variance_filter

    X, y = screening_data
    result = screen(X, y, ScreeningSettings(seed=1))
    usable = X.drop(columns="empty")
    after_variance = variance_filter(usable, 1.0)
    after_correlation = drop_correlated(usable[after_variance], 0.7)
    tests = univariable_tests(usable[after_correlation], y)
    after_test = [c for c in after_correlation if tests.loc[c, "p_value"] < 0.05]
    assert list(result.kept.values())[1:5] == [tuple(usable.columns), tuple(after_variance),
                                               tuple(after_correlation), tuple(after_test)]
    assert "flat" not in after_variance and not {"strong", "twin"} <= set(after_correlation)
    assert result.funnel["n_features"].tolist()[0] == X.shape[1]
    assert set(result.selected) <= set(after_test) and result.selected


def test_screen_icc_step_and_empty_outcomes(screening_data):
    from core.stats.selection import ScreeningSettings, screen

    X, y = screening_data
    icc = pd.DataFrame({"ICC1": 0.9, "ICC2": 0.9, "ICC3": 0.9}, index=X.columns)
    icc.loc[["strong", "twin"], "ICC3"] = 0.5
    result = screen(X, y, ScreeningSettings(icc_threshold=0.8), icc=icc)
    assert "ICC > 0.8" in result.kept and not {"strong", "twin"} & set(result.kept["ICC > 0.8"])
    with pytest.raises(RadNomoError, match="second reader"):
        screen(X, y, ScreeningSettings(icc_threshold=0.8))
    nothing = screen(X, y, ScreeningSettings(p_threshold=1e-30))
    assert nothing.lasso is None and nothing.selected == [] and nothing.funnel["n_features"].iloc[-1] == 0
    with pytest.raises(RadNomoError, match="p-value threshold"):
        ScreeningSettings(p_threshold=0)
    with pytest.raises(RadNomoError, match="unknown screening setting"):
        ScreeningSettings.from_dict({"p_treshold": 0.1})


def test_selection_stability_frequencies(screening_data):
    from core.stats.selection import selection_stability

    X, y = screening_data
    columns = ["strong", "weak", "noise0", "noise1", "noise2"]
    frequency, runs = selection_stability(X[columns], y, n_repeats=8, seed=3)
    again, _ = selection_stability(X[columns], y, n_repeats=8, seed=3)
    pd.testing.assert_frame_equal(frequency, again)
    assert frequency.loc["strong", "selected"] == 1.0
    assert frequency["selected"].between(0, 1).all() and len(runs) == 8
    assert (runs["lambda_1se"] >= runs["lambda_min"]).all()


def test_every_screening_method_is_a_declared_sequence_of_steps():
    """Each vocabulary method has its steps; each step names settings that exist; every method ends in the LASSO."""
    from core.stats.selection import ICC_INPUT, SCREENING_PIPELINES, Lasso, ScreeningSettings
    from core.vocabulary import SCREENING_METHODS

    assert list(SCREENING_PIPELINES) == list(SCREENING_METHODS)
    fields = set(ScreeningSettings.__dataclass_fields__) | {ICC_INPUT}
    for method, steps in SCREENING_PIPELINES.items():
        assert isinstance(steps[-1], Lasso), method
        for step in steps:
            assert step.name and set(step.needs) <= fields, (method, step.name, step.needs)


def test_a_new_method_defined_as_data_runs_without_editing_screen(screening_data, monkeypatch):
    """A sixth method is one entry: a sequence of existing steps registered (here in test-local copies of the
    registry and the vocabulary), then screen() runs it, funnel and univariable table included."""
    import core.stats.selection as selection
    import core.vocabulary as vocabulary
    from core.stats.selection import (FIRST_STEPS, Lasso, RedundancyFilter, ScreeningSettings, UnivariableAuc,
                                      UnivariableTest, screen)

    monkeypatch.setattr(vocabulary, "SCREENING_METHODS",
                        {**vocabulary.SCREENING_METHODS, "auc_then_test": "AUC filter, then the test, then LASSO"})
    monkeypatch.setattr(selection, "SCREENING_PIPELINES", {
        **selection.SCREENING_PIPELINES,
        "auc_then_test": (*FIRST_STEPS, UnivariableAuc(), UnivariableTest(), RedundancyFilter(), Lasso())})
    X, y = screening_data
    settings = ScreeningSettings(method="auc_then_test", auc_threshold=0.55, p_threshold=0.01, seed=1)
    result = screen(X, y, settings)
    assert result.funnel["step"].tolist() == ["all features", "not all missing", "variance > 1",
                                              "univariable AUC > 0.55", "student p < 0.01", "|spearman r| <= 0.7",
                                              "LASSO (lambda.1se)"]
    kept = result.kept
    assert set(kept["student p < 0.01"]) <= set(kept["univariable AUC > 0.55"])
    assert all(result.univariable.loc[c, "p_value"] < 0.01 for c in kept["student p < 0.01"])
    assert result.selected and set(result.selected) <= set(result.reaching_lasso)
    # Removed counts add up along the funnel.
    funnel = result.funnel
    assert (funnel["n_features"].shift(1).iloc[1:] - funnel["n_features"].iloc[1:] == funnel["removed"].iloc[1:]).all()
    # Without the registry entry the method is refused by name.
    monkeypatch.setattr(selection, "SCREENING_PIPELINES", {k: v for k, v in selection.SCREENING_PIPELINES.items()
                                                           if k != "auc_then_test"})
    with pytest.raises(RadNomoError, match="has no steps"):
        screen(X, y, settings)


def test_the_early_steps_are_remembered_across_later_settings(screening_data):
    """The memo: changing only the p threshold or the rule reuses the variance and redundancy results."""
    from core.stats.selection import ScreeningSettings, screen

    X, y = screening_data
    memo: dict = {}
    first = screen(X, y, ScreeningSettings(seed=1), memo=memo)
    assert {key[0] for key in memo} == {"variance", "redundancy"}
    size = len(memo)
    again = screen(X, y, ScreeningSettings(seed=1, p_threshold=0.2, rule="min"), memo=memo)
    assert len(memo) == size and again.kept["|spearman r| <= 0.7"] == first.kept["|spearman r| <= 0.7"]
    screen(X, y, ScreeningSettings(seed=1, correlation_threshold=0.8), memo=memo)
    assert len(memo) == size + 1


def test_lasso_non_convergence_reaches_the_screening_warnings(screening_data, monkeypatch):
    import core.stats.selection as selection
    from core.stats.selection import ScreeningResult, ScreeningSettings, screen

    X, y = screening_data
    assert screen(X, y, ScreeningSettings(seed=1)).warnings == ()
    real = selection.lasso_cv
    monkeypatch.setattr(selection, "lasso_cv", lambda *args, **kwargs: real(*args, **kwargs, max_iter=2))
    result = screen(X, y, ScreeningSettings(seed=1))
    assert len(result.warnings) == 1 and "iteration limit" in result.warnings[0]
    assert result.warnings[0] == result.lasso.warning
    saved = result.to_dict()
    assert ScreeningResult.from_dict(saved).warnings == result.warnings
    del saved["warnings"], saved["lasso"]["unconverged"]  # a result saved before warnings existed
    assert ScreeningResult.from_dict(saved).warnings == ()
