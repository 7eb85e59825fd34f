"""Columns that must never be features: a feature table holding the ID, the outcome, a clinical variable and a
perfectly-ordering column; one table holding clinical variables and features; identifier-like columns in the
leak check; the user's exclusions by name or pattern, saved with the study; and core.analyse with --exclude and
with the same file as --clinical and --features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import CohortSpec, SplitConfig
from core.stats.feature_tables import (IDENTIFIER_LIKE, excluded_columns, identifier_like, import_feature_table,
                                       parse_exclusions, perfect_orderers, role_columns)
from core.stats.selection import ScreeningSettings
from core.workflows.checks import (exclusion_matches, never_features, possible_leaks, study_feature_import,
                                   usable_feature_tables)
from core.workflows.fit import fit_study, prepare_tables
from core.workflows.study import FeatureFamily, ModelSettings, make_study

N = 160


def _everything(seed: int = 1) -> pd.DataFrame:
    """One table holding everything: ID, outcome, clinical variables (age, sex), a hash per scan, and features:
    20 noisy ones (f0 and f1 informative), 'leak' (the outcome plus noise: orders it perfectly), 'lm_type'
    (a follow-up detail), 'diagnostics_x' (metadata)."""
    rng = np.random.default_rng(seed)
    ids = [f"P{i:03d}" for i in range(N)]
    age = rng.normal(60, 10, N)
    features = pd.DataFrame(rng.normal(size=(N, 20)) * 5, columns=[f"original_f{j}" for j in range(20)])
    logit = (age - 60) / 10 + 0.4 * features["original_f0"] - 0.3 * features["original_f1"]
    y = (rng.random(N) < 1 / (1 + np.exp(-logit))).astype(int)
    table = pd.DataFrame({"pid": ids, "event": y, "age": age, "sex": rng.choice(["F", "M"], N),
                          "scan_hash": [f"{rng.integers(2 ** 62):016x}" for _ in range(N)]})
    return pd.concat([table, features.assign(leak=y * 10 + rng.random(N), lm_type=y * 2.0 + 1,
                                             diagnostics_x=3.0)], axis=1)


SPEC = CohortSpec(id_column="pid", outcome_column="event", continuous=("age",), categorical=("sex",))
# "Variance > 0": the setting under which the LASSO picked the outcome as its only feature (issue 23).
# The clinical model is age alone, chosen, so that every study here has a model whatever its features give.
OPEN_SCREENING = ModelSettings(screening=ScreeningSettings(variance_threshold=0), clinical_continuous=("age",),
                               clinical_categorical=())


def _study(settings: ModelSettings = OPEN_SCREENING, family_table: pd.DataFrame | None = None):
    table = _everything()
    study = make_study("never features", table[["pid", "event", "age", "sex", "scan_hash"]], SPEC,
                       SplitConfig(test_size=0.3, seed=1), settings=settings)
    raw = family_table if family_table is not None else \
        table.drop(columns=["sex", "scan_hash", "diagnostics_x"]).set_index("pid")
    raw.index = pd.Index(raw.index.astype(str), name="ID")
    return study.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=raw.astype(float)))


# --- the import ------------------------------------------------------------------------------------------------


def test_the_import_leaves_out_the_id_outcome_clinical_and_excluded_columns_with_their_reasons():
    table = _everything()
    result = import_feature_table(table, table["pid"], id_column="pid", outcome_column="event",
                                  clinical=("age", "sex"), excluded=("LM_*",))
    reasons = result.dropped.set_index("column")["reason"].to_dict()
    assert reasons["event"] == "outcome column" and reasons["age"] == "clinical variable"
    # the role wins over "text": sex is listed as the clinical variable it is
    assert reasons["sex"] == "clinical variable" and reasons["lm_type"] == "excluded ('LM_*')"
    assert reasons["diagnostics_x"] == "metadata" and reasons["scan_hash"] == "text"
    assert not {"event", "age", "sex", "lm_type", "pid"} & set(result.table.columns)
    assert "original_f0" in result.table.columns and "leak" in result.table.columns  # judged on training patients
    assert any("must never be features left out (outcome column): event" in n for n in result.notes)


def test_role_names_match_regardless_of_case_and_the_id_column_is_named():
    roles = role_columns(["PID", " Event", "Age", "x"], id_column="pid", outcome_column="event", clinical=["age"])
    assert roles == {"PID": "ID column", " Event": "outcome column", "Age": "clinical variable"}


def test_exclusion_patterns_are_parsed_and_matched_as_globs_or_names():
    assert parse_exclusions("lm_type, diagnostics_*;\n *_hash ,lm_type,") == ("lm_type", "diagnostics_*", "*_hash")
    columns = ["lm_type", "diagnostics_Versions", "Diagnostics_Mask", "scan_hash", "original_f0", "a[1]"]
    assert excluded_columns(columns, ("diagnostics_*", "LM_TYPE", "a[1]")) == {
        "lm_type": "LM_TYPE", "diagnostics_Versions": "diagnostics_*", "Diagnostics_Mask": "diagnostics_*",
        "a[1]": "a[1]"}


# --- perfect ordering --------------------------------------------------------------------------------------------


def test_perfect_orderers_equal_reversed_missing_and_chance():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(60), np.ones(40)].astype(int)
    X = pd.DataFrame({"equal": y.astype(float), "reversed": 1.0 - y, "above": y * 5 + rng.random(100),
                      "below": -y * 5 + rng.random(100), "noise": rng.normal(size=100),
                      "after_event": np.where(y == 1, rng.random(100), np.nan)})
    X.loc[3, "above"] = np.nan  # judged on the patients with a value
    left_out, notes = perfect_orderers(X, y)
    assert left_out == {"equal": "equal to the outcome", "reversed": "the outcome reversed (1 - outcome)",
                        "above": "orders the outcome perfectly in training (AUC 1)",
                        "below": "orders the outcome perfectly in training (AUC 0)",
                        "after_event": "has a value only for the patients with the event"}
    assert notes == []
    # 2 events among 6 patients: chance orders 2 of C(6, 2) = 15 splits perfectly (p 0.13): kept, and named;
    # with 3 events among 8, 2 of 56 (p 0.036): left out
    kept, notes = perfect_orderers(pd.DataFrame({"small": np.arange(6.0)}), [0, 0, 0, 0, 1, 1])
    assert kept == {} and len(notes) == 1 and "small orders the training outcome perfectly" in notes[0]
    left_out, _ = perfect_orderers(pd.DataFrame({"small": np.arange(8.0)}), [0, 0, 0, 0, 0, 1, 1, 1])
    assert list(left_out) == ["small"]
    # patients repeated (a bootstrap resample) add no evidence: 6 distinct patients, each twice, are kept
    kept, notes = perfect_orderers(pd.DataFrame({"small": np.repeat(np.arange(6.0), 2)}),
                                   np.repeat([0, 0, 0, 0, 1, 1], 2))
    assert kept == {} and len(notes) == 1


def test_a_table_holding_the_outcome_and_a_perfect_orderer_never_screens_them():
    study = _study()
    left = never_features(study).table.set_index("column")["reason"].to_dict()
    assert left == {"event": "outcome column", "age": "clinical variable",
                    "leak": "orders the outcome perfectly in training (AUC 1)",
                    "lm_type": "the outcome recoded (one value per outcome)"}
    prepared = prepare_tables(study)
    assert not {"event", "age", "leak", "lm_type"} & set(prepared.tables["radiomics"].columns)
    assert any("event (outcome column)" in n and "leak (orders the outcome" in n for n in prepared.notes)
    models = fit_study(study)
    assert not {"event", "leak", "lm_type", "age"} & set(models.scores["radiomics"].features)
    assert any("must never be features left out" in n for n in models.notes)


def test_the_perfect_ordering_is_judged_on_training_patients_only():
    study = _study()
    rng = np.random.default_rng(3)
    train, test = pd.Index(study.train_ids), pd.Index(study.test_ids)
    table = study.family("radiomics").table
    # perfect in training, random among the test patients: left out
    broken_in_test = table.assign(leak=table["leak"])
    broken_in_test.loc[test, "leak"] = rng.random(len(test))
    # random in training, perfect among the test patients only: kept (the test patients decide nothing)
    perfect_in_test = table.assign(leak=table["leak"])
    perfect_in_test.loc[train, "leak"] = rng.random(len(train))
    for table, left_out in ((broken_in_test, True), (perfect_in_test, False)):
        changed = study.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=table))
        assert ("leak" in never_features(changed).columns_of("radiomics")) is left_out


def test_a_family_of_forbidden_columns_only_is_left_out_with_a_note():
    table = _everything().set_index("pid")[["event", "age"]]
    study = _study(family_table=table)
    tables, notes = usable_feature_tables(study)
    assert "radiomics" not in tables
    assert any("every column of the table must stay out of the features" in n for n in notes)
    models = fit_study(study)
    assert "radiomics" not in models.scores
    with pytest.raises(RadNomoError, match="no column of"):
        from core.workflows.fit import screen_family

        screen_family(study, "radiomics")


# --- one table holding everything -------------------------------------------------------------------------------


def test_one_table_holding_everything_becomes_a_family_without_its_roles():
    table = _everything()
    study = make_study("one table", table, SPEC, SplitConfig(test_size=0.3, seed=1), settings=OPEN_SCREENING)
    imported = study_feature_import(study)
    assert {"event", "age", "sex"} <= set(imported.dropped["column"])
    assert "scan_hash" in set(imported.dropped["column"])  # text
    study = study.with_family(FeatureFamily(name="radiomics", label="Radiomics", table=imported.table))
    models = fit_study(study)
    assert models.scores["radiomics"].features and not {"leak", "lm_type"} & set(models.scores["radiomics"].features)


# --- user exclusions ----------------------------------------------------------------------------------------------


def test_exclusions_leave_every_family_change_the_training_key_and_survive_saving(tmp_path):
    from core.workflows.persistence import load_study, save_study

    study = _study()
    before = study.training_key("radiomics")
    assert study.with_settings(excluded_features=("nothing_*",)).training_key("radiomics") == before
    excluded = study.with_settings(excluded_features=("original_f1*", "original_f0"))
    assert excluded.training_key("radiomics") != before
    left = never_features(excluded).table.set_index("column")["reason"]
    assert left["original_f0"] == "excluded ('original_f0')" and left["original_f12"] == "excluded ('original_f1*')"
    models = fit_study(excluded)
    features = set(models.scores["radiomics"].features) if "radiomics" in models.scores else set()
    assert not {c for c in features if c.startswith("original_f1") or c == "original_f0"}
    matches = exclusion_matches(excluded).set_index("pattern")
    assert matches.loc["original_f1*", "n"] == 11 and matches.loc["original_f1*", "where"] == "Radiomics"
    assert exclusion_matches(excluded, ["typo*"])["n"].tolist() == [0]

    save_study(excluded, tmp_path / "saved", None)
    loaded = load_study(tmp_path / "saved")
    assert loaded.settings.excluded_features == ("original_f1*", "original_f0")
    assert loaded.training_key("radiomics") == excluded.training_key("radiomics")
    # a save from before exclusions existed loads without any, and a study without any keeps its fingerprint
    values = excluded.settings.to_dict()
    values.pop("excluded_features")
    assert ModelSettings.from_dict(values).excluded_features == ()
    assert "excluded_features" not in study.settings.to_dict()
    with pytest.raises(RadNomoError, match="non-empty"):
        ModelSettings(excluded_features=("a", " "))


def test_excluding_a_clinical_column_takes_it_out_of_the_roles_too():
    study = _study()
    excluded = study.excluding(["age"])
    assert "age" not in excluded.spec.variables and excluded.settings.excluded_features == ("age",)
    assert excluded.settings.clinical_continuous == ()
    with pytest.raises(RadNomoError, match="ID or outcome"):
        study.excluding(["event"])


# --- the leak check ----------------------------------------------------------------------------------------------


def test_identifier_like_columns_are_recognised():
    rng = np.random.default_rng(2)
    assert identifier_like(pd.Series([f"{rng.integers(2 ** 62):016x}" for _ in range(20)]))
    assert identifier_like(pd.Series(["3f2b8c1e-9a7d-4e21-b0c4-5d6e7f809a1b"] * 5))  # repeated UUIDs
    assert identifier_like(pd.Series([f"/data/case{i % 3}/ct.nii.gz" for i in range(9)]))  # repeated paths
    assert identifier_like(pd.Series([f"name {i}" for i in range(10)]))
    assert not identifier_like(pd.Series(rng.normal(size=20)))  # a continuous variable: unique numbers
    assert not identifier_like(pd.Series(["F", "M"] * 10))


def test_the_leak_check_names_identifier_like_and_already_left_out_columns():
    study = _study()
    leaks = possible_leaks(study).set_index("column")
    assert leaks.loc["scan_hash", "note"] == IDENTIFIER_LIKE and leaks.loc["scan_hash", "source"] == "other column"
    assert leaks.loc["event", "note"] == "left out: outcome column"
    assert leaks.loc["leak", "note"].startswith("left out: orders the outcome perfectly")
    assert list(possible_leaks(study).columns) == ["source", "family", "column", "auc", "note"]
    # a study without such columns (the sample study) has no notes on its leaks but lm_type's
    excluded = study.replace(cohort=study.cohort.assign(lm_detail=study.outcome.map({0: "none", 1: "early"})))
    leaks = possible_leaks(excluded.with_settings(excluded_features=("lm_detail",))).set_index("column")
    assert leaks.loc["lm_detail", "note"] == "excluded"


# --- core.analyse --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_analyse_with_the_same_file_as_clinical_and_features_and_exclude(tmp_path):
    from core.cli.analyse import main
    from core.workflows.persistence import load_study

    path = tmp_path / "everything.csv"
    _everything().to_csv(path, index=False)
    common = ["--clinical", str(path), "--id", "pid", "--outcome", "event", "--features", f"radiomics={path}",
              "--variance-threshold", "0"]
    # the clinical variables must be named when the clinical table is also the feature table
    assert main([*common, "--out", str(tmp_path / "refused")]) == 2
    out = tmp_path / "out"
    assert main([*common, "--continuous", "age", "--categorical", "sex", "--exclude", "lm_*,original_f19",
                 "--out", str(out)]) == 0
    imports = pd.read_csv(out / "imports.csv").set_index("column")["reason"]
    assert imports["event"] == "outcome column" and imports["age"] == "clinical variable"
    assert imports["sex"] == "clinical variable" and imports["lm_type"] == "excluded ('lm_*')"
    assert imports["original_f19"] == "excluded ('original_f19')"
    assert imports["leak"] == "orders the outcome perfectly in training (AUC 1)"
    coefficients = pd.read_csv(out / "coefficients.csv")
    assert not {"event", "leak", "lm_type", "original_f19"} & set(coefficients.loc[coefficients.model == "radiomics",
                                                                                   "term"])
    assert "must never be features left out" in (out / "notes.txt").read_text()
    assert load_study(out / "study").settings.excluded_features == ("lm_*", "original_f19")
