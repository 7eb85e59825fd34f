"""Cohort reading, validation, split and Table 1 (p-values checked against scipy called directly)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from core.io.tables import read_table
from core.stats.cohort import (CohortSpec, SplitConfig, baseline_table, guess_variable_kinds, missing_values,
                               split_cohort, table_one, train_test_comparison, validate_cohort)
from core.errors import RadNomoError
from core.workflows.sample import SAMPLE_SPEC


def _cohort(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "event": np.arange(n) % 3 == 0,
                         "age": rng.normal(60, 10, n).round(), "grade": rng.choice(["G1", "G2", "G3"], n)})


# ---------------------------------------------------------------------------------------------
# read_table
# ---------------------------------------------------------------------------------------------


def test_reads_csv_tsv_txt_and_xlsx_alike(tmp_path):
    frame = _cohort().assign(event=lambda d: d.event.astype(int))
    csv = frame.to_csv(index=False).encode()
    tsv = frame.to_csv(index=False, sep="\t").encode()
    xlsx = io.BytesIO()
    frame.to_excel(xlsx, index=False)
    (tmp_path / "c.csv").write_bytes(csv)
    tables = [read_table(csv, "c.csv"), read_table(tsv, "c.tsv"), read_table(tsv, "c.txt"),
              read_table(xlsx.getvalue(), "c.xlsx"), read_table(tmp_path / "c.csv"),
              read_table(str(tmp_path / "c.csv"))]
    for table in tables:
        assert list(table.columns) == list(frame.columns)
        assert table["age"].tolist() == frame["age"].tolist()
        assert table["pid"].tolist() == frame["pid"].tolist()


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"", "a.csv", "is empty"),
    (b"   \n\n", "a.csv", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR", "a.csv", "binary file"),
    (b"just some words\nand more words\n", "notes.txt", "no column separator"),
    (b"id\n1\n2\n3\n", "a.csv", "only one column"),
    (b"id,x\n1,2\n", "a.json", "unsupported extension"),
    (b"PK not really a zip", "a.xlsx", "not a valid .xlsx"),
    (b"id,x,x\n1,2,3\n", "a.csv", "duplicate column names"),
    (b"id,,y\n1,2,3\n", "a.csv", "without a header"),
    (b'id,x\n1,"unterminated\n', "a.csv", "not a readable table"),
])
def test_bad_files_get_specific_messages(data, name, message):
    with pytest.raises(RadNomoError, match=message):
        read_table(data, name)


def test_bytes_need_a_filename_and_paths_must_exist(tmp_path):
    with pytest.raises(RadNomoError, match="file name"):
        read_table(b"a,b\n1,2\n")
    with pytest.raises(RadNomoError, match="does not exist"):
        read_table(tmp_path / "missing.csv")


def test_mixed_numeric_column_stays_text_for_validation_to_report():
    table = read_table(b"id,x\n1,2\n2,abc\n", "a.csv")
    assert table["x"].tolist() == ["2", "abc"]


# ---------------------------------------------------------------------------------------------
# validate_cohort
# ---------------------------------------------------------------------------------------------


def test_valid_cohort_is_cleaned():
    frame = _cohort().assign(event=lambda d: np.where(d.event, "Yes", "no"))
    clean = validate_cohort(frame, "pid", "event", continuous=["age"], categorical=["grade"])
    assert clean["event"].tolist() == frame["event"].eq("Yes").astype(int).tolist()
    assert clean["age"].dtype == float
    assert frame["event"].iloc[0] == "Yes"  # the input is not modified


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.assign(pid=["P000"] * 2 + d.pid.tolist()[2:]), "duplicated ID"),
    (lambda d: d.assign(pid=[None] + d.pid.tolist()[1:]), "ID column 'pid' is empty"),
    (lambda d: d.assign(event=np.arange(len(d)) % 3), "3 distinct values"),
    (lambda d: d.assign(event=1), "one class only"),
    (lambda d: d.assign(event=np.where(d.event, 2, 1)), "code it as 0/1"),
    (lambda d: d.assign(event=[np.nan] + d.event.astype(float).tolist()[1:]), "missing for 1 patient"),
    (lambda d: d.head(19), "at least 20"),
    (lambda d: d.assign(age=d.age.astype(object).where(d.index != 4, "sixty")), "not numbers"),
    (lambda d: d.assign(age=d.age.where(d.index != 4, np.inf)), "infinite"),
    (lambda d: d.drop(columns="age"), r"not found"),
])
def test_bad_cohorts_get_specific_messages(change, message):
    with pytest.raises(RadNomoError, match=message):
        validate_cohort(change(_cohort()), "pid", "event", continuous=["age"], categorical=["grade"])


def test_spec_refuses_overlapping_roles():
    with pytest.raises(RadNomoError, match="both continuous and categorical"):
        CohortSpec(id_column="a", outcome_column="b", continuous=("x",), categorical=("x",))
    with pytest.raises(RadNomoError, match="must be different"):
        CohortSpec(id_column="a", outcome_column="a")
    with pytest.raises(RadNomoError, match="test_size"):
        SplitConfig(test_size=1.2)


def test_missing_values_and_guessed_kinds():
    frame = _cohort().assign(age=lambda d: d.age.where(d.index % 10 != 0))
    report = missing_values(frame, ["age", "grade"]).set_index("variable")
    assert report.loc["age", "n_missing"] == 4 and report.loc["age", "percent"] == 10.0
    continuous, categorical = guess_variable_kinds(frame, exclude=["pid", "event"])
    assert continuous == ["age"] and categorical == ["grade"]


# ---------------------------------------------------------------------------------------------
# split
# ---------------------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_seeded(sample_cohort):
    split = split_cohort(sample_cohort, SAMPLE_SPEC, SplitConfig(test_size=0.3, seed=1))
    assert set(split.train_ids).isdisjoint(split.test_ids)
    assert len(split.train_ids) + len(split.test_ids) == 1001
    outcome = sample_cohort.set_index("patient_id")["lm"]
    assert outcome[list(split.test_ids)].mean() == pytest.approx(312 / 1001, abs=0.01)
    assert split == split_cohort(sample_cohort, SAMPLE_SPEC, SplitConfig(test_size=0.3, seed=1))
    assert split.train_ids != split_cohort(sample_cohort, SAMPLE_SPEC, SplitConfig(seed=2)).train_ids
    assert split.cohort_labels(["GC0001"]).iloc[0] in {"train", "test"}


# ---------------------------------------------------------------------------------------------
# Table 1
# ---------------------------------------------------------------------------------------------


def _scipy_continuous_p(a: np.ndarray, b: np.ndarray) -> tuple[str, float]:
    """The study's rule, written out directly with scipy."""
    normal = stats.shapiro(a)[1] > 0.05 and stats.shapiro(b)[1] > 0.05
    if normal and stats.levene(a, b)[1] > 0.05:
        return "Student t", stats.ttest_ind(a, b)[1]
    return "Mann-Whitney U", stats.mannwhitneyu(a, b, alternative="two-sided")[1]


def test_table_one_p_values_equal_scipy(sample_cohort):
    split = split_cohort(sample_cohort, SAMPLE_SPEC)
    table = table_one(sample_cohort, SAMPLE_SPEC, split)
    tests_seen = set()
    for cohort, ids in (("Train", split.train_ids), ("Test", split.test_ids)):
        rows = sample_cohort[sample_cohort.patient_id.isin(ids)]
        for variable in SAMPLE_SPEC.continuous:
            a = rows.loc[rows.lm == 0, variable].to_numpy()
            b = rows.loc[rows.lm == 1, variable].to_numpy()
            test, expected = _scipy_continuous_p(a, b)
            got = table.loc[table.variable == variable].iloc[0]
            assert got[f"{cohort} test"] == test
            assert got[f"{cohort} p"] == pytest.approx(expected, rel=1e-12)
            tests_seen.add(test)
        for variable in SAMPLE_SPEC.categorical:
            expected = stats.chi2_contingency(pd.crosstab(rows[variable], rows.lm))[1]
            got = table.loc[table.variable == variable, f"{cohort} p"].iloc[0]
            assert got == pytest.approx(expected, rel=1e-12)
    assert tests_seen == {"Student t", "Mann-Whitney U"}  # both branches of the rule are exercised


def test_table_one_shape_and_display(sample_cohort):
    split = split_cohort(sample_cohort, SAMPLE_SPEC)
    table = table_one(sample_cohort, SAMPLE_SPEC, split)
    # one row per continuous variable + one per level of each categorical variable
    levels = sum(sample_cohort[c].nunique() for c in SAMPLE_SPEC.categorical)
    assert len(table) == len(SAMPLE_SPEC.continuous) + levels
    assert table.variable.iloc[0] == "age"  # the spec's order, not alphabetical
    n0 = int((sample_cohort[sample_cohort.patient_id.isin(split.train_ids)].lm == 0).sum())
    assert f"Train: non-LM (n={n0})" in table.columns
    female = table[(table.variable == "sex") & (table.level == "female")].iloc[0]
    count = int(((sample_cohort.sex == "female") & (sample_cohort.lm == 0)
                 & sample_cohort.patient_id.isin(split.train_ids)).sum())
    assert female[f"Train: non-LM (n={n0})"] == f"{count} ({100 * count / n0:.1f})"
    assert (table["Train significant"] == (table["Train p"] < 0.05)).all()


def test_two_by_two_uses_yates_like_r_chisq_test():
    # Published Table 1, training cohort, sex: 107/368 vs 37/189 gives p = 0.074 (R chisq.test default).
    frame = pd.DataFrame({"sex": ["female"] * 107 + ["male"] * 368 + ["female"] * 37 + ["male"] * 189})
    group = pd.Series([0] * 475 + [1] * 226)
    table = baseline_table(frame, group, continuous=[], categorical=["sex"], group_labels=("a", "b"))
    assert round(table.p_value.iloc[0], 3) == 0.074


def test_train_test_comparison_includes_outcome(sample_cohort):
    split = split_cohort(sample_cohort, SAMPLE_SPEC)
    comparison = train_test_comparison(sample_cohort, SAMPLE_SPEC, split)
    lm_row = comparison[comparison.variable == "lm"].iloc[0]
    assert lm_row.p_value > 0.5  # stratification keeps the event rate equal


def test_missing_values_are_left_out_and_noted():
    frame = _cohort(60).assign(age=lambda d: d.age.where(d.index % 6 != 0))
    clean = validate_cohort(frame, "pid", "event", continuous=["age"])
    table = baseline_table(clean, clean.event, continuous=["age"], categorical=[], group_labels=("a", "b"))
    assert table.note.iloc[0] == "10 missing"
    assert np.isfinite(table.p_value.iloc[0])


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=6, max_size=40),
       st.lists(st.floats(0, 100, allow_nan=False), min_size=6, max_size=40))
def test_p_value_is_symmetric_and_bounded(a, b):
    frame = pd.DataFrame({"x": a + b})
    group = pd.Series([0] * len(a) + [1] * len(b))
    forward = baseline_table(frame, group, continuous=["x"], categorical=[], group_labels=("a", "b")).p_value.iloc[0]
    backward = baseline_table(frame, 1 - group, continuous=["x"], categorical=[],
                              group_labels=("a", "b")).p_value.iloc[0]
    if np.isnan(forward):
        assert np.isnan(backward)
    else:
        assert 0.0 <= forward <= 1.0
        assert forward == pytest.approx(backward, rel=1e-9, abs=1e-12)
