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

# Fixtures that fit the 1,001-patient sample study. A test asking for one (directly or through another fixture)
# belongs to the slow lane; an e2e test (a real browser against a served dashboard) does too.
SAMPLE_SIZED_FIXTURES = frozenset({"sample_models", "sample_predictions"})

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


def unmarked_slow_tests(items) -> list[str]:
    """The node IDs of collected ``items`` that must carry ``pytest.mark.slow`` and do not: those that ask for a
    fixture in :data:`SAMPLE_SIZED_FIXTURES` (a sample-sized fit) and those marked ``e2e``."""
    return [item.nodeid for item in items
            if item.get_closest_marker("slow") is None
            and (item.get_closest_marker("e2e") is not None
                 or SAMPLE_SIZED_FIXTURES & set(getattr(item, "fixturenames", ())))]


def pytest_collection_modifyitems(config, items):
    """Refuse to run when a sample-sized or e2e test is not marked slow: the fast lane (``-m "not slow"``) must
    stay fast, and a forgotten marker is found at collection, not by a developer waiting for a fit."""
    unmarked = unmarked_slow_tests(items)
    if unmarked:
        listed = "\n  ".join(unmarked[:20]) + (f"\n  ... and {len(unmarked) - 20} more" if len(unmarked) > 20 else "")
        raise pytest.UsageError(
            f"{len(unmarked)} test(s) fit the sample study or drive a browser but are not marked slow; add "
            f"@pytest.mark.slow (or a module-level pytestmark = pytest.mark.slow):\n  {listed}")
