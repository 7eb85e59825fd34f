"""A study whose radiomics features were extracted with MIRP: screening, models, the nomogram, the report
and a new patient scored from CT with MIRP again.

The features are the 40 bundled sample CTs extracted with MIRP under the 'original' parameters, made with

    python -m core.cli.extract sample_data/manifest.csv --params original --engine mirp --workers 2 \\
        --out tests/data/mirp_sample/features_mirp.parquet

(about 7 minutes on 2 cores: 20 s a case; the cases without images on disk are reported as failed and left
out). The command writes the settings beside the table (``features_mirp.parquet.settings.json``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.stats.cohort import CohortSpec, SplitConfig
from core.stats.selection import ScreeningSettings
from core.workflows.sample import SAMPLE_CLINICAL, SAMPLE_MANIFEST
from core.workflows.study import FeatureFamily, ModelSettings, make_study

DATA = Path(__file__).resolve().parents[1] / "data" / "mirp_sample"
FEATURES = DATA / "features_mirp.parquet"
# MIRP estimates Moran's I and Geary's C by Monte Carlo for ROIs over 1,000 voxels, seeded from the case's
# temporary folder path: the same on one machine, not across machines. Left out so the known answers hold
# wherever the test runs.
MONTE_CARLO = ("mirp_morph_moran_i", "mirp_morph_geary_c")


@pytest.fixture(scope="module")
def mirp_study():
    pytest.importorskip("mirp", reason="the MIRP engine needs the mirp package (requirements.txt)")
    features = pd.read_parquet(FEATURES).drop(columns=list(MONTE_CARLO))
    extraction = json.loads((DATA / "features_mirp.parquet.settings.json").read_text())
    clinical = pd.read_csv(SAMPLE_CLINICAL)
    clinical = clinical[clinical["patient_id"].isin(features.index)][
        ["patient_id", "lm", "age", "tumour_thickness_mm", "cea_ng_ml", "sex"]]
    spec = CohortSpec(id_column="patient_id", outcome_column="lm", continuous=("age", "tumour_thickness_mm",
                                                                               "cea_ng_ml"),
                      categorical=("sex",))
    # 40 patients, 18 events: no held-out test cohort (the study is judged by internal validation), the
    # LASSO at lambda.min after a lenient univariable filter so a small cohort still gives a score.
    settings = ModelSettings(screening=ScreeningSettings(p_threshold=0.2, rule="min"),
                             clinical_continuous=("tumour_thickness_mm",), clinical_categorical=())
    family = FeatureFamily(name="radiomics", label="Radiomics (MIRP)", table=features, kind="radiomics",
                           extraction=extraction, source="extracted with MIRP from the bundled sample CTs")
    return make_study("mirp sample", clinical, spec, SplitConfig(test_size=0), families=[family],
                      settings=settings)


@pytest.fixture(scope="module")
def mirp_models(mirp_study):
    from core.workflows.fit import fit_study

    return fit_study(mirp_study)


def test_a_mirp_study_is_screened_and_modelled(mirp_study, mirp_models):
    from core.imaging.ibsi import mirp_ibsi_tag
    from core.workflows.fit import predict_study

    assert mirp_study.family("radiomics").extraction["engine"] == "mirp"
    score = mirp_models.scores["radiomics"]
    assert 1 <= len(score.features) <= 10 and all(f.startswith("mirp_") for f in score.features)
    assert all(mirp_ibsi_tag(f) for f in score.features)  # every MIRP feature is an IBSI feature
    assert mirp_models.fused is not None and "radiomics_score" in mirp_models.fused.variables
    predictions = predict_study(mirp_study, mirp_models)
    assert predictions["fused"].between(0, 1).all() and len(predictions) == 40
    nomogram = mirp_models.nomogram(mirp_study, predictions, "fused")
    row = mirp_study.cohort.join(predictions[["radiomics_score"]]).iloc[0]
    assert nomogram.probability(row) == pytest.approx(predictions["fused"].iloc[0], abs=1e-9)


def test_the_report_names_the_engine_and_the_ibsi_agreement(mirp_study, mirp_models):
    from core.workflows.checks import family_compliance, feature_ibsi_tags
    from core.workflows.report import methods_text

    compliance = family_compliance(mirp_study, "radiomics")
    assert compliance.attrs == {"configuration": "C", "engine": "mirp"}
    assert (compliance["ibsi_tag"] != "").all() and (compliance["ibsi"] == "agrees").sum() > 100
    text = " ".join(methods_text(mirp_study, mirp_models))
    assert "extracted with mirp" in text and f"{(compliance['ibsi'] == 'agrees').sum()} agree" in text
    tags = feature_ibsi_tags(mirp_study, mirp_models.scores["radiomics"].features)
    assert (tags["ibsi_tag"] != "").all()


@pytest.mark.slow
def test_a_new_patient_is_scored_with_mirp_like_the_cohort(mirp_study, mirp_models):
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.fit import predict_study
    from core.workflows.newpatient import score_patient, study_patient_features

    manifest = read_manifest(SAMPLE_MANIFEST).set_index("ID")
    case_id = mirp_study.train_ids[0]
    image, mask = manifest.loc[case_id, "Image"], manifest.loc[case_id, "Mask"]
    features = study_patient_features(mirp_study, mirp_models, image, mask, case_id=case_id)
    stored = mirp_study.family("radiomics").table.loc[case_id, features.index]
    assert features.to_numpy() == pytest.approx(stored.to_numpy(), rel=1e-9, abs=1e-12)
    result = score_patient(mirp_models, features, mirp_study.cohort.loc[case_id].to_dict())
    pipeline = predict_study(mirp_study, mirp_models).loc[case_id]
    assert result.model == "fused"
    assert result.scores["radiomics"] == pytest.approx(pipeline["radiomics_score"], abs=1e-9)
    assert result.probability == pytest.approx(pipeline["fused"], abs=1e-9)
