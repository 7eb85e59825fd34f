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
def sample_study():
    """The bundled sample study (a Study: cohort indexed by patient ID, its families and default settings)."""
    from core.workflows.sample import sample_study as make

    return make()


@pytest.fixture(scope="session")
def sample_cohort():
    """The bundled sample study's validated clinical table (the ID as a column)."""
    from core.workflows.sample import load_sample_cohort

    return load_sample_cohort()


@pytest.fixture(scope="session")
def sample_features(sample_study):
    """The bundled sample study's feature tables by family ("radiomics", "dl"; index: patient ID)."""
    return sample_study.feature_tables()


@pytest.fixture(scope="session")
def sample_models(sample_study):
    """Every model of the sample study fitted with the default settings on the default split."""
    from core.workflows.fit import fit_study

    return fit_study(sample_study)


@pytest.fixture(scope="session")
def sample_predictions(sample_study, sample_models):
    from core.workflows.fit import predict_study

    return predict_study(sample_study, sample_models)
