"""Subgroups judged on any patients with the training cut-offs, and feature families' labels (unique, following
their names)."""

from __future__ import annotations

import dataclasses

import pytest

from core.errors import RadNomoError
from core.stats.evaluation import youden_cutoff
from core.workflows.subgroups import compare_subgroup, subgroup_cutoffs, subgroup_groups


@pytest.mark.slow
def test_test_patients_are_judged_at_the_cut_offs_of_the_training_patients(sample_study, sample_predictions):
    study, settings = sample_study, sample_study.subgroup
    scores = ["dl_radiomics", "radiomics"]
    every = compare_subgroup(study, sample_predictions, scores, settings)
    test = compare_subgroup(study, sample_predictions, scores, settings, ids=study.test_ids)
    assert set(test.groups.index) <= set(study.test_ids) and len(test.groups) < len(every.groups)
    train = subgroup_groups(study, settings, study.train_ids)
    for score in scores:
        learned = youden_cutoff(train, sample_predictions.loc[train.index, score])
        assert subgroup_cutoffs(study, sample_predictions, [score], settings)[score] == learned
        # One cut-off, learned on the training patients compared, whoever is shown.
        assert test.table.set_index("model").loc[score, "cutoff"] == learned
        assert every.table.set_index("model").loc[score, "cutoff"] == learned
    assert not test.table["auc"].equals(every.table["auc"])


@pytest.mark.slow
def test_training_patients_of_one_level_only_are_refused_in_words(sample_study, sample_predictions):
    cohort = sample_study.cohort.copy()
    train_events = cohort.index.isin(sample_study.train_ids) & (cohort["lm"] == 1)
    cohort.loc[train_events, "lm_type"] = "synchronous"
    study = sample_study.replace(cohort=cohort)
    with pytest.raises(RadNomoError, match="cut-offs are chosen on the training patients, and the patients "
                                           "compared need both 'synchronous' and 'metachronous'"):
        compare_subgroup(study, sample_predictions, ["dl"], study.subgroup, ids=study.test_ids)


def test_two_families_never_share_a_label(sample_study):
    radiomics = sample_study.family("radiomics")
    twin = dataclasses.replace(radiomics, name="arterial")  # a renamed copy that kept the label "Radiomics"
    with pytest.raises(RadNomoError, match="feature families 'radiomics' and 'arterial' share the label "
                                           "'Radiomics'; give each family its own label"):
        sample_study.with_family(twin)
    with pytest.raises(RadNomoError, match="share the label"):  # case and spaces do not make labels differ
        sample_study.with_family(dataclasses.replace(radiomics, name="arterial", label=" radiomics "))
    assert sample_study.with_family(dataclasses.replace(twin, label="Arterial")).family_label("arterial") == "Arterial"


def test_a_label_follows_the_family_name_unless_given(sample_study):
    assert sample_study.label_for_family("arterial_phase") == "Arterial phase"
    assert sample_study.label_for_family("radiomics") == "Radiomics"  # an existing family keeps its label
    assert sample_study.label_for_family("arterial_phase", "  Arterial (CT) ") == "Arterial (CT)"
