"""Studies whose rows come as real tables hand them over (issue 23, "data in rows"): tables without an ID
column, blank IDs in a cohort, a feature table and an external cohort, patients whose every feature is
missing, and a feature table offered as the clinical table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.cli.analyse import main
from core.errors import RadNomoError
from core.stats.cohort import (CohortSpec, guess_id_column, guess_outcome_column,
                               looks_like_feature_table, suggest_clinical_variables, with_row_ids, without_blank_ids)
from core.stats.feature_tables import import_feature_table
from core.stats.missing import MissingPolicy, missing_features_reason, patients_missing_features
from core.vocabulary import ROW_ID_COLUMN
from core.workflows.persistence import load_study
from core.workflows.study import FeatureFamily, ModelSettings, make_study


def _tables(n: int = 90, n_features: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A clinical table (pid, age, sex, grade, event) and a feature table (ID + f0..), the event driven by f0, f1."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(n)]
    features = pd.DataFrame(rng.normal(size=(n, n_features)) * 10 + 50,
                            columns=[f"original_firstorder_F{j}" for j in range(n_features)])
    signal = (features.iloc[:, 0] - 50) / 10 + (features.iloc[:, 1] - 50) / 10 + rng.normal(scale=0.8, size=n)
    event = (signal > np.quantile(signal, 0.6)).astype(int)
    clinical = pd.DataFrame({"pid": ids, "age": rng.normal(60, 10, n).round(1),
                             "sex": rng.choice(["F", "M"], n), "grade": rng.choice(["1", "2", "3"], n),
                             "event": event})
    return clinical, features.assign(ID=ids)[["ID", *features.columns]]


# ---------------------------------------------------------------------------------------------
# Tables without IDs
# ---------------------------------------------------------------------------------------------


def test_row_numbers_become_text_ids_matched_row_by_row():
    clinical, features = _tables()
    numbered = with_row_ids(clinical.drop(columns="pid"))
    assert numbered.columns[0] == ROW_ID_COLUMN and numbered[ROW_ID_COLUMN].tolist()[:3] == ["1", "2", "3"]
    study = make_study("rows", numbered, CohortSpec(id_column=ROW_ID_COLUMN, outcome_column="event",
                                                    continuous=("age",)))
    # A feature table without IDs, imported into that study, is numbered alike: row 7 is patient "7".
    imported = import_feature_table(features.drop(columns="ID"), study.cohort.index, id_column=ROW_ID_COLUMN)
    assert imported.table.index.tolist() == study.cohort.index.tolist()
    np.testing.assert_allclose(imported.table.loc["7"].to_numpy(), features.drop(columns="ID").iloc[6].to_numpy())


def test_row_ids_refuse_tables_of_other_lengths_naming_both_counts():
    clinical, features = _tables()
    with pytest.raises(RadNomoError, match="it has 89 rows and the clinical table has 90"):
        with_row_ids(features.drop(columns="ID").iloc[:89], expected_rows=90, what="radiomics feature table")
    with pytest.raises(RadNomoError, match="already has a column 'row'"):
        with_row_ids(clinical.assign(row=1))


def test_the_id_guess_never_takes_a_column_with_repeated_values():
    clinical, _ = _tables()
    assert guess_id_column(clinical) == "pid"
    # No ID column: sex, grade and the outcome repeat, age has decimals; nothing is proposed (row numbers are).
    assert guess_id_column(clinical.drop(columns="pid")) is None
    assert guess_id_column(clinical[["sex", "age", "event"]]) is None
    # A column named like an ID wins over an earlier unique column; blank IDs do not disqualify it.
    named = clinical.assign(code=[f"x{i}" for i in range(90)])[["code", "sex", "pid", "event"]]
    named.loc[3, "pid"] = None
    assert guess_id_column(named) == "pid"
    assert guess_id_column(clinical.rename(columns={"pid": "PatientID"})) == "PatientID"
    # An ID column with a duplicate is still proposed: opening the cohort names the duplicate.
    assert guess_id_column(clinical.assign(pid=["P000", *clinical["pid"][1:-1], "P000"])) == "pid"
    assert guess_outcome_column(clinical, exclude=["pid"]) == "event"
    assert guess_outcome_column(clinical[["pid", "age"]]) is None


# ---------------------------------------------------------------------------------------------
# Blank IDs
# ---------------------------------------------------------------------------------------------


def test_blank_ids_are_left_out_and_counted_in_the_cohort_and_a_feature_table():
    clinical, features = _tables()
    clinical.loc[[4, 9], "pid"] = [None, "  \u200b"]  # missing, and only a space and an invisible character
    kept, lines = without_blank_ids(clinical, "pid")
    assert len(kept) == 88 and lines == (6, 11)  # file lines: the header is line 1
    study = make_study("blank", clinical, CohortSpec(id_column="pid", outcome_column="event", continuous=("age",)))
    assert len(study.cohort) == 88
    assert study.exclusions == (("file line 6", "a blank ID"), ("file line 11", "a blank ID"))
    features.loc[[0, 1, 2], "ID"] = ["", None, " "]
    imported = import_feature_table(features, study.cohort.index)
    assert imported.blank_id_lines == (2, 3, 4)
    assert "3 row(s) with a blank ID left out of the table (file lines 2, 3, 4)." in imported.notes
    # Duplicated IDs stay refused by name.
    with pytest.raises(RadNomoError, match="duplicated ID.*'P005'"):
        import_feature_table(features.assign(ID=features["ID"].replace({"P006": "P005"})), study.cohort.index)


def test_an_external_cohort_with_blank_ids_is_scored_without_them():
    from core.workflows.external import validate_external
    from core.workflows.fit import fit_study

    clinical, features = _tables(n=120)
    train = slice(0, 90)
    study = make_study("ext", clinical.iloc[train],
                       CohortSpec(id_column="pid", outcome_column="event", continuous=("age",)),
                       settings=ModelSettings(clinical_continuous=("age",), clinical_categorical=()))
    imported = import_feature_table(features.iloc[train], study.cohort.index).table
    study = study.replace(families=(FeatureFamily(name="radiomics", label="Radiomics", table=imported),))
    models = fit_study(study)
    external, external_features = clinical.iloc[90:].reset_index(drop=True), features.iloc[90:].reset_index(drop=True)
    external.loc[[0, 1, 2, 3, 4], "pid"] = None  # five blank IDs: not a reason to refuse the cohort
    external_features.loc[[0, 1], "ID"] = None
    cohort = validate_external(study, "centre B", external, {"radiomics": external_features}, models)
    assert len(cohort.cohort) == 25
    assert cohort.notes[0].startswith("5 row(s) with a blank ID left out of the external cohort 'centre B'")
    assert cohort.notes[1].startswith("2 row(s) with a blank ID left out of the external radiomics feature table")


# ---------------------------------------------------------------------------------------------
# Patients whose every feature is missing
# ---------------------------------------------------------------------------------------------


def test_patients_missing_every_feature_are_dropped_on_their_own():
    _, features = _tables()
    table = features.set_index("ID")
    table.iloc[[3, 8], :] = np.nan  # every feature missing
    table.iloc[[5], :9] = np.nan  # 9 of 12 missing
    rng = np.random.default_rng(1)
    for column in table.columns:  # most patients miss one value somewhere, as in a real export
        table.iloc[rng.choice(90, 6, replace=False), table.columns.get_loc(column)] = np.nan
    everyone = table.isna().any(axis=1).sum()
    assert everyone > 45  # the older "drop patients with a missing value" would take half the cohort
    assert patients_missing_features([table], 1.0) == ["P003", "P008"]
    assert patients_missing_features([table], 0.5)[:3] == ["P003", "P005", "P008"]
    assert missing_features_reason(1.0) == "every feature of a family missing"
    assert missing_features_reason(0.5) == "at least 50% of a family's features missing"


def test_the_patient_share_is_saved_and_older_saves_still_load():
    policy = MissingPolicy(patient_max_missing=0.5)
    assert MissingPolicy.from_dict(policy.to_dict()) == policy
    assert MissingPolicy.from_dict({"strategy": "mean", "max_missing": 0.3}).patient_max_missing is None
    assert "patient_max_missing" not in MissingPolicy().to_dict()  # older studies keep their fingerprint
    with pytest.raises(RadNomoError, match="must lie in"):
        MissingPolicy(patient_max_missing=0)


# ---------------------------------------------------------------------------------------------
# A feature table offered as the clinical table
# ---------------------------------------------------------------------------------------------


def _wide_table() -> pd.DataFrame:
    """300 numeric feature columns beside an ID, an outcome, age, sex and a couple of few-level columns."""
    clinical, _ = _tables()
    rng = np.random.default_rng(2)
    wide = pd.DataFrame(rng.normal(size=(90, 300)), columns=[f"wavelet-LLH_glcm_F{j}" for j in range(300)])
    wide["original_shape_VoxelVolume"] = rng.integers(100, 5000, 90)
    wide["original_glszm_Zones"] = rng.integers(1, 4, 90)  # a feature with 3 values: still no clinical variable
    return pd.concat([clinical, wide], axis=1)


def test_a_feature_table_as_the_clinical_table_preselects_a_handful():
    wide = _wide_table()
    assert looks_like_feature_table(wide, exclude=["pid", "event"])
    assert not looks_like_feature_table(_tables()[0], exclude=["pid", "event"])
    continuous, categorical = suggest_clinical_variables(wide, exclude=["pid", "event"])
    assert continuous == ["age"] and categorical == ["sex", "grade"]
    assert len(continuous) + len(categorical) <= 8
    # A clinical table keeps the whole guess.
    assert suggest_clinical_variables(_tables()[0], exclude=["pid", "event"]) == (["age"], ["sex", "grade"])


# ---------------------------------------------------------------------------------------------
# core.analyse
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_analyse_with_row_ids_blank_external_ids_and_empty_patients(tmp_path, capsys):
    clinical, features = _tables(n=130)
    features.iloc[[3, 8], 1:] = np.nan  # two patients of the study without any feature value
    study_clinical = clinical.iloc[:100].drop(columns="pid")
    study_features = features.iloc[:100].drop(columns="ID")
    study_clinical.to_csv(tmp_path / "clinical.csv", index=False)
    study_features.to_csv(tmp_path / "radiomics.csv", index=False)
    external = clinical.iloc[100:].drop(columns="pid")
    external.to_csv(tmp_path / "ext.csv", index=False)
    features.iloc[100:].drop(columns="ID").to_csv(tmp_path / "ext_radiomics.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(tmp_path / "clinical.csv"), "--row-ids", "--outcome", "event",
                 "--continuous", "age", "--categorical", "sex,grade", "--features",
                 f"radiomics={tmp_path / 'radiomics.csv'}", "--drop-patients-missing", "1",
                 "--external", f"centre_b={tmp_path / 'ext.csv'},radiomics={tmp_path / 'ext_radiomics.csv'}",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "left out of the study: 2 with every feature of a family missing" in err
    notes = (out / "notes.txt").read_text()
    assert "excluded 4: every feature of a family missing" in notes and "excluded 9: every" in notes
    study = load_study(out / "study")
    assert study.spec.id_column == ROW_ID_COLUMN and len(study.cohort) == 98
    assert study.settings.missing.patient_max_missing == 1.0
    assert "centre_b" in set(pd.read_csv(out / "table2.csv")["cohort"])

    # Mismatched row counts: one clear message naming both counts, exit 2.
    study_features.iloc[:97].to_csv(tmp_path / "short.csv", index=False)
    code = main(["--clinical", str(tmp_path / "clinical.csv"), "--row-ids", "--outcome", "event",
                 "--continuous", "age", "--features", f"radiomics={tmp_path / 'short.csv'}", "--out", str(out)])
    assert code == 2
    assert "it has 97 rows and the clinical table has 100" in capsys.readouterr().err


@pytest.mark.slow
def test_analyse_with_blank_ids_and_a_feature_table_as_clinical_table(tmp_path, capsys):
    wide = _wide_table()
    wide.loc[[2, 7], "pid"] = None
    wide.to_csv(tmp_path / "everything.csv", index=False)
    out = tmp_path / "out"
    code = main(["--clinical", str(tmp_path / "everything.csv"), "--id", "pid", "--outcome", "event",
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "left out of the study: 2 with a blank ID" in err
    study = load_study(out / "study")
    assert len(study.spec.variables) <= 8 and set(study.spec.variables) == {"age", "sex", "grade"}
    assert len(study.cohort) == 88 and "excluded file line 4: a blank ID" in (out / "notes.txt").read_text()
