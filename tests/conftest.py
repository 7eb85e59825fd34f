"""Shared fixtures and the hypothesis profile for the whole suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI runs derandomised so a property failure is reproducible from the log.
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60)
settings.register_profile("dev", deadline=None, max_examples=40)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def tiny_tables():
    """A small synthetic cohort (n = 120, tables only), built once."""
    from core.imaging.synthetic import generate_clinical

    return generate_clinical(n=120, seed=7)


@pytest.fixture(scope="session")
def sample_cohort():
    """The bundled sample study, validated."""
    from core.workflows.sample import load_sample_cohort

    return load_sample_cohort()


@pytest.fixture(scope="session")
def sample_features():
    """The bundled sample study's radiomics and deep feature tables (index: patient ID)."""
    import pandas as pd

    from core.workflows.sample import SAMPLE_DEEP, SAMPLE_RADIOMICS

    return {"radiomics": pd.read_parquet(SAMPLE_RADIOMICS), "deep": pd.read_parquet(SAMPLE_DEEP)}


@pytest.fixture(scope="session")
def sample_models(sample_cohort, sample_features):
    """Every model of the sample study fitted with the default settings on the default split."""
    from core.stats.cohort import split_cohort
    from core.workflows.fit import fit_study_models
    from core.workflows.sample import SAMPLE_SPEC

    split = split_cohort(sample_cohort, SAMPLE_SPEC)
    return split, fit_study_models(sample_cohort, SAMPLE_SPEC, split.train_ids, sample_features)
