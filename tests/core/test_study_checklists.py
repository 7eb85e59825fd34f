"""A study's checklists filled from the run (issue 30): full item counts, statuses that follow the study (an external
cohort turns the external-validation items from "not done" to "reported" and adds exactly METRICS 27's points),
every "reported" item pointing at a heading the report prints, and the METRICS score against a hand computation
for the sample and for a study of imported features without a test cohort.

The sample's fit is stored with it, so ``StudyResults(sample_study())`` loads in about 3 s: these tests are fast."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.report import REPORT_KINDS, _layout, study_facts
from core.workflows.results import StudyResults
from core.workflows.study import FeatureFamily, make_study
from core.workflows.study_checklists import (PROBAST_ANSWERS, REPORT_ANCHORS, STATUSES, Answer, metrics_conditions,
                                             probast_assessment, study_checklist, study_metrics)

# The METRICS weights as published (Kocak et al. 2024), typed by hand from the paper's table, not read from the CSV.
WEIGHTS = {"1": 0.0368, "2": 0.0735, "3": 0.0919, "4": 0.0438, "5": 0.0292, "6": 0.0438, "7": 0.0292, "8": 0.0337,
           "9": 0.0225, "10": 0.0112, "11": 0.0622, "12": 0.0311, "13": 0.0415, "14": 0.0200, "15": 0.0200,
           "16": 0.0300, "17": 0.0200, "18": 0.0599, "19": 0.0300, "20": 0.0352, "21": 0.0234, "22": 0.0176,
           "23": 0.0117, "24": 0.0293, "25": 0.0176, "26": 0.0375, "27": 0.0749, "28": 0.0075, "29": 0.0075,
           "30": 0.0075}


@pytest.fixture(scope="module")
def sample_results(sample_study):
    return StudyResults(sample_study)


@pytest.fixture(scope="module")
def sample_facts(sample_results):
    return study_facts(sample_results)


@pytest.fixture(scope="module")
def external_facts(sample_results):
    """The sample with its second centre (shipped with it) as an external cohort scored by the frozen models."""
    from core.io.tables import read_table
    from core.workflows.external import validate_external
    from core.workflows.sample import SAMPLE_EXTERNAL_DIR, sample_external_tables

    external = validate_external(sample_results.study, "centre B", read_table(SAMPLE_EXTERNAL_DIR / "clinical.csv"),
                                 sample_external_tables(), sample_results.models)
    return study_facts(sample_results, externals=[external])


@pytest.fixture(scope="module")
def imported_facts():
    """160 patients, 40 imported features (no images), no clinical variable, no held-out test cohort."""
    rng = np.random.default_rng(3)
    ids = [f"p{i:03d}" for i in range(160)]
    X = pd.DataFrame(rng.normal(size=(160, 40)), index=pd.Index(ids, name="pid"),
                     columns=[f"feature_{j:02d}" for j in range(40)])
    logit = 1.6 * X["feature_00"] - 1.2 * X["feature_01"] + 0.9 * X["feature_02"]
    clinical = pd.DataFrame({"pid": ids, "event": (rng.random(160) < 1 / (1 + np.exp(-logit))).astype(int)})
    study = make_study("imported", clinical, CohortSpec(id_column="pid", outcome_column="event"),
                       SplitConfig(test_size=0), families=[FeatureFamily(name="radiomics", label="Radiomics", table=X)])
    return study_facts(StudyResults(study))


def _status(table: pd.DataFrame, item: str) -> str:
    return table.set_index("item").loc[item, "status"]


def _hand_score(met: set[str], applicable: set[str]) -> float:
    return 100 * sum(WEIGHTS[n] for n in met) / sum(WEIGHTS[n] for n in applicable)


def test_the_facts_are_the_sample_run(sample_facts):
    f = sample_facts
    assert (f.patients, f.events, f.n_train, f.n_test) == (1001, 312, 700, 301)
    assert f.train_events + f.test_events == 312 and not f.externals and not f.validation
    assert "seed 2025" in f.split and "stratified" in f.split
    radiomics = f.extracted[0]
    assert radiomics.engine == "pyradiomics v3.1.4" and "bin width 25" in radiomics.settings
    assert sum(n for _, n in radiomics.ibsi) == radiomics.n_features == 1874 and radiomics.kept == 7
    assert sum(n for _, n in radiomics.classes) == 1874 and dict(radiomics.classes)["shape"] == 14
    assert {m.name for m in f.models} == {"clinical", "radiomics", "dl", "dl_radiomics", "fused"}
    clinical = next(m for m in f.models if m.name == "clinical")
    assert clinical.parameters == 12 and clinical.events_per_parameter == pytest.approx(f.train_events / 12)


@pytest.mark.parametrize(("key", "count"), [("tripod_ai", 52), ("clear", 58), ("metrics", 30)])
def test_every_checklist_has_its_full_item_count_in_order(sample_facts, key, count):
    from core.workflows.checklist_items import checklist_items

    table = study_checklist(sample_facts, key)
    assert list(table.columns) == ["item", "section", "text", "status", "where", "evidence"]
    assert list(table["item"]) == [item.number for item in checklist_items(key)] and len(table) == count
    assert set(table["status"]) <= set(STATUSES)
    # Every item the run answers says how, with a value; the others leave room for the author and point nowhere.
    assert (table["evidence"].str.len() > 0).all()
    assert (table.loc[table["status"] == "for the author", "where"] == "").sum() >= 1
    assert (table.loc[table["status"] == "reported", "where"] != "").all()
    if key == "tripod_ai":  # TRIPOD+AI's 27 numbered items with their lettered sub-items
        assert table["item"].str.extract(r"^(\d+)")[0].astype(int).nunique() == 27


def test_items_the_run_cannot_know_are_for_the_author(sample_facts):
    tripod = study_checklist(sample_facts, "tripod_ai")
    for item in ("1", "17", "18a", "18b", "19", "25", "26"):  # title, ethics, funding, conflicts, PPI, discussion
        assert _status(tripod, item) == "for the author"
    clear = study_checklist(sample_facts, "clear")
    assert _status(clear, "8") == "for the author" and _status(clear, "49") == "for the author"


def test_without_external_cohort_the_external_items_are_not_done_and_cost_metrics_27(sample_facts):
    assert _status(study_checklist(sample_facts, "tripod_ai"), "16") == "not done"
    assert _status(study_checklist(sample_facts, "clear"), "38") == "not done"
    assert _status(study_checklist(sample_facts, "metrics"), "27") == "not done"
    score = study_metrics(sample_facts)
    assert "27" in dict(score.lost)


def test_an_external_cohort_reports_them_and_adds_exactly_metrics_27s_share(sample_facts, external_facts):
    assert external_facts.externals[0][0] == "centre B"
    for key, item in (("tripod_ai", "16"), ("clear", "38"), ("metrics", "27")):
        table = study_checklist(external_facts, key)
        assert _status(table, item) == "reported"
        assert table.set_index("item").loc[item, "where"] == REPORT_ANCHORS["External cohorts"]
    before, after = study_metrics(sample_facts), study_metrics(external_facts)
    assert "27" not in dict(after.lost)
    assert after.score - before.score == pytest.approx(dict(before.lost)["27"], abs=1e-12)
    assert after.score - before.score == pytest.approx(_hand_score({"27"}, set(before.applicable)), abs=1e-12)


def test_metrics_score_of_the_sample_equals_a_hand_computation(sample_facts):
    """The sample: images with masks (segmentation, hand-crafted, tabular), a test cohort, a clinical model, no
    external cohort, no ICC filter, no bootstrap run."""
    assert metrics_conditions(sample_facts) == {"segmentation", "hand_crafted", "tabular"}
    met = {"1", "11", "12", "13", "15", "18", "20", "21", "22", "24", "25", "26", "29"}
    applicable = set(WEIGHTS) - {"9", "17"}  # automatic segmentation, end-to-end deep learning
    table = study_checklist(sample_facts, "metrics")
    assert set(table.loc[table["status"] == "reported", "item"]) == met
    assert set(table.loc[table["status"] == "not applicable", "item"]) == {"9", "17"}
    score = study_metrics(sample_facts)
    assert set(score.applicable) == applicable
    assert score.score == pytest.approx(_hand_score(met, applicable), abs=1e-9)
    assert score.score == pytest.approx(43.8225, abs=1e-4) and score.band == "moderate"


def test_metrics_score_of_imported_features_without_test_cohort_equals_a_hand_computation(imported_facts):
    """No images (no segmentation or hand-crafted item applies), no test cohort, no clinical model."""
    f = imported_facts
    assert not f.has_test and not f.has_clinical and not f.extracted
    assert metrics_conditions(f) == {"tabular"}
    table = study_checklist(f, "metrics")
    for item in ("8", "9", "10", "12", "17"):
        assert _status(table, item) == "not applicable"
    for item, status in (("26", "not done"), ("27", "not done"), ("25", "not done"), ("24", "partly"),
                         ("13", "for the author")):
        assert _status(table, item) == status
    met = {"1", "15", "18", "20", "21", "22", "29"} | ({"16"} if min(m.events_per_parameter for m in f.models) >= 10
                                                        else set())
    applicable = set(WEIGHTS) - {"8", "9", "10", "12", "17"}
    assert set(table.loc[table["status"] == "reported", "item"]) == met
    score = study_metrics(f)
    assert set(score.applicable) == applicable
    assert score.score == pytest.approx(_hand_score(met, applicable), abs=1e-9)
    tripod = study_checklist(f, "tripod_ai")
    assert _status(tripod, "20c") == "not applicable"  # no evaluation cohort to compare


def _printed_headings(kind: str) -> set[str]:
    """Every heading report.py's ``_layout`` can print for an outcome kind (with warnings and selected features
    present), and the Methods heading printed after Settings."""
    study = SimpleNamespace(spec=SimpleNamespace(outcome=SimpleNamespace(kind=kind)))
    tables = {"Selected features": pd.DataFrame({"feature": ["x"]})}
    return {section for section, _, _ in _layout(study, tables, {"Warnings": ["w"]}, {})} | {"Methods"}  # type: ignore[arg-type]


def test_every_mapped_heading_is_printed_by_the_report_and_ids_are_unique():
    printed = set().union(*(_printed_headings(kind) for kind in REPORT_KINDS))
    assert set(REPORT_ANCHORS) == printed
    ids = list(REPORT_ANCHORS.values())
    assert len(set(ids)) == len(ids) and all(i == i.lower() and " " not in i for i in ids)


@pytest.mark.parametrize("facts", ["sample_facts", "external_facts", "imported_facts"])
def test_every_reported_item_points_to_a_section_this_report_prints(request, facts):
    f = request.getfixturevalue(facts)
    printed = {REPORT_ANCHORS[h] for h in _printed_headings(f.outcome_kind) - {"Warnings"}}  # Warnings: only if any
    for key in ("tripod_ai", "clear", "metrics"):
        table = study_checklist(f, key)
        assert set(table["where"]) - {""} <= set(REPORT_ANCHORS.values())
        pointed = set(table.loc[table["status"].isin(["reported", "partly"]), "where"]) - {""}
        assert pointed <= printed, (key, pointed - printed)


def test_probast_development_and_evaluation_follow_the_study(sample_facts, imported_facts):
    table = probast_assessment(sample_facts)
    assert list(table.columns) == ["domain", "part", "number", "question", "answer", "concern", "reason"]
    assert (table["part"].value_counts().to_dict()) == {"evaluation": 18, "development": 16}
    assert set(table["answer"]) <= set(PROBAST_ANSWERS)
    assert (table["concern"] == table["answer"].map(PROBAST_ANSWERS)).all()
    rows = table.set_index(["part", "number"])
    # 700 training patients fall short of Riley's minimum; no bootstrap run; 94 test events (< 100).
    assert rows.loc[("development", "4.1"), "concern"] == "high" and "1666" in rows.loc[("development", "4.1"),
                                                                                        "reason"]
    assert rows.loc[("development", "4.5"), "answer"] == "probably no"
    assert rows.loc[("evaluation", "4.2"), "answer"] == "probably no" and "94" in rows.loc[("evaluation", "4.2"),
                                                                                          "reason"]
    assert rows.loc[("evaluation", "4.5"), "concern"] == "low"
    assert rows.loc[("development", "1.1"), "answer"] == "no information"
    # Without a test or external cohort only the development part is assessed.
    assert set(probast_assessment(imported_facts)["part"]) == {"development"}


def test_a_bootstrap_run_reports_internal_validation(sample_results, sample_facts):
    """A validation run passed in (as the Internal validation page keeps it) is what the facts say."""
    from core.workflows.validation import InternalValidation

    run = InternalValidation(key=sample_results.study.validation_key, optimism=pd.DataFrame({"optimism": [0.01]}),
                             meta={"bootstrap": {"done": 200, "seed": 11}})
    validated = study_facts(sample_results, validation=run)
    assert validated.validation.startswith("bootstrap optimism correction (200 resamples, seed 11)")
    assert _status(study_checklist(sample_facts, "tripod_ai"), "12c") == "partly"
    tripod = study_checklist(validated, "tripod_ai").set_index("item")
    assert tripod.loc["12c", "status"] == "reported" and tripod.loc["12c", "where"] == "internal-validation"
    assert probast_assessment(validated).set_index(["part", "number"]).loc[("development", "4.5"), "answer"] == "yes"


def test_a_time_to_event_study_is_answered_in_its_own_words(sample_study):
    """300 sample patients with their overall survival (imported features, a test cohort): fitted in seconds."""
    from tests.core.test_survival_external import survival_study_300

    f = study_facts(StudyResults(survival_study_300(sample_study)))
    assert f.outcome_kind == "survival" and "horizons" in f.cutoff and "C-index" in f.measures
    printed = {REPORT_ANCHORS[h] for h in _printed_headings("survival")}
    for key, count in (("tripod_ai", 52), ("clear", 58), ("metrics", 30)):
        table = study_checklist(f, key)
        assert len(table) == count
        assert set(table.loc[table["status"] == "reported", "where"]) <= printed
    assert "C-index" in study_checklist(f, "metrics").set_index("item").loc["20", "evidence"]
    assert set(probast_assessment(f)["part"]) == {"development", "evaluation"}


def test_bad_inputs_are_refused(sample_facts):
    with pytest.raises(RadNomoError, match="not a checklist answered"):
        study_checklist(sample_facts, "probast_ai")
    with pytest.raises(RadNomoError, match="no checklist status"):
        Answer("done")
    with pytest.raises(RadNomoError, match="no report section id"):
        Answer("reported", "Table 2")
