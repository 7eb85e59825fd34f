"""Feature sources and extraction engines as types: the registries match the vocabulary, each type answers the
questions the study, new patients, IBSI compliance and the report ask, and a new one is one registry entry."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.vocabulary import EXTRACTION_ENGINES, FEATURE_KINDS
from core.workflows.sources import FEATURE_SOURCES, AutoencoderSource, FeatureSource, source_of
from core.workflows.study import Autoencoder, FeatureFamily


def _table(prefix: str = "f", n: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.normal(size=(n, 3)), index=[f"P{i}" for i in range(n)],
                        columns=[f"{prefix}{j}" for j in range(3)])


def test_every_feature_kind_and_engine_has_its_type():
    from core.imaging.extraction.engines import EXTRACTION_ENGINE_TYPES
    from core.imaging.ibsi import ENGINES as IBSI_ENGINES
    from core.imaging.ibsi import PHANTOM_RUNS

    assert list(PHANTOM_RUNS) == list(IBSI_ENGINES) == list(EXTRACTION_ENGINES)
    assert list(FEATURE_SOURCES) == list(FEATURE_KINDS)
    assert all(FEATURE_SOURCES[kind].label == FEATURE_KINDS[kind] for kind in FEATURE_KINDS)
    assert list(EXTRACTION_ENGINE_TYPES) == list(EXTRACTION_ENGINES)
    assert all(EXTRACTION_ENGINE_TYPES[name].label == EXTRACTION_ENGINES[name] for name in EXTRACTION_ENGINES)


def test_each_source_answers_the_questions_asked_of_a_family():
    params = {"imageType": {"Original": {}}, "featureClass": {"firstorder": []}, "setting": {"binWidth": 25}}
    radiomics = FeatureFamily(name="radiomics", label="Radiomics", table=_table("original_firstorder_"),
                              kind="radiomics", extraction={"params": params, "engine": "pyradiomics"})
    lost = FeatureFamily(name="lost", label="Lost", table=_table(), kind="radiomics")
    deep = FeatureFamily(name="dl", label="DL", table=_table("latent_"), kind="deep",
                         autoencoder=Autoencoder(weights="weights.safetensors"))
    unweighted = FeatureFamily(name="dl2", label="DL2", table=_table("latent_"), kind="deep")
    imported = FeatureFamily(name="other", label="Other", table=_table(), kind="imported", source="a CSV")

    assert [source_of(f).learns_from_training for f in (radiomics, deep, imported)] == [False, True, False]
    assert [source_of(f).scorable_from_images(f) for f in (radiomics, lost, deep, unweighted, imported)] == \
        [True, False, True, False, False]
    assert source_of(radiomics).recorded_extraction(radiomics)["params"] == params
    assert [source_of(f).recorded_extraction(f) for f in (lost, deep, imported)] == [None, None, None]
    assert [source_of(f).ibsi_named for f in (radiomics, deep, imported)] == [True, False, True]

    def compliance() -> str:
        return "IBSI."

    sentence = source_of(radiomics).methods_sentence(radiomics, compliance)
    assert sentence.startswith("Radiomics features (3) were extracted with pyradiomics") and "bin width 25" in sentence
    assert sentence.endswith(" IBSI.")
    # A family whose making is unknown is said to be imported, whatever its kind.
    assert source_of(lost).methods_sentence(lost, compliance) == "Lost features (3) were imported: . IBSI."
    assert source_of(unweighted).methods_sentence(unweighted, compliance).startswith("DL2 features (3) were imported")
    assert source_of(imported).methods_sentence(imported, compliance) == \
        "Other features (3) were imported: a CSV. IBSI."


def test_a_new_source_is_one_registry_entry_and_a_resplit_follows_it(monkeypatch):
    """A source type registered in test-local copies of the registry and the vocabulary: a family of it is
    accepted, and a resplit drops it because it learned from the training patients (no `kind ==` anywhere)."""
    import core.vocabulary as vocabulary
    import core.workflows.sources as sources
    from core.stats.cohort import CohortSpec, SplitConfig
    from core.workflows.study import make_study

    class FoundationSource(AutoencoderSource):
        kind = "foundation"

    monkeypatch.setattr(vocabulary, "FEATURE_KINDS", {**vocabulary.FEATURE_KINDS, "foundation": "a foundation model"})
    monkeypatch.setattr(sources, "FEATURE_SOURCES", {**sources.FEATURE_SOURCES, "foundation": FoundationSource()})
    import core.workflows.study as study_module

    monkeypatch.setattr(study_module, "FEATURE_KINDS", vocabulary.FEATURE_KINDS)

    rng = np.random.default_rng(1)
    n = 60
    ids = [f"P{i}" for i in range(n)]
    clinical = pd.DataFrame({"patient_id": ids, "age": rng.normal(60, 10, n), "y": np.tile([0, 1], n // 2)})
    spec = CohortSpec(id_column="patient_id", outcome_column="y", continuous=("age",))
    features = pd.DataFrame(rng.normal(size=(n, 4)), index=ids, columns=[f"f{j}" for j in range(4)])
    families = (FeatureFamily(name="kept", label="Kept", table=features, kind="imported"),
                FeatureFamily(name="learned", label="Learned", table=features, kind="foundation"))
    study = make_study("sources", clinical, spec, SplitConfig(seed=1), families=families)
    assert source_of(study.family("learned")).learns_from_training
    resplit = study.resplit(SplitConfig(seed=2))
    assert [f.name for f in resplit.families] == ["kept"]
    assert [f.name for f in study.resplit(study.split.config).families] == ["kept", "learned"]


def test_an_unknown_kind_or_engine_is_refused_by_name():
    from core.imaging.extraction.engines import engine_of

    family = FeatureFamily(name="x", label="X", table=_table(), kind="imported")
    object.__setattr__(family, "kind", "mystery")  # as a hand-edited saved study could hold
    with pytest.raises(RadNomoError, match="'mystery', which has no source type"):
        source_of(family)
    with pytest.raises(RadNomoError, match="engine 'opencv' is not valid; possible values"):
        engine_of("opencv")
    assert isinstance(FEATURE_SOURCES["imported"], FeatureSource)


def test_extraction_settings_ask_their_engine_and_keep_their_saved_form():
    """The settings' hash and saved form are those written before engines were types (feature stores stay valid)."""
    from core.imaging.extraction.batch import ExtractionSettings
    from core.imaging.extraction.radiomics import load_params, params_sha256, pyradiomics_version

    settings = ExtractionSettings(params=load_params("original"))
    assert settings.engine_type.name == "pyradiomics" and settings.engine_type.computes_only_asked
    payload = {"params": params_sha256(settings.params), "preprocess": settings.preprocess.sha256, "label": 1,
               "roi_name": None, "pyradiomics": pyradiomics_version()}
    assert settings.sha256 == hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    assert settings.extractor_version == pyradiomics_version()
    saved = settings.to_dict()
    assert saved["engine"] == "pyradiomics" and saved["pyradiomics_version"] == pyradiomics_version()
    assert ExtractionSettings.from_dict(saved).sha256 == settings.sha256
    with pytest.raises(RadNomoError, match="engine 'opencv' is not valid"):
        ExtractionSettings(params=settings.params, engine="opencv")
