"""The bundled synthetic sample study: where it lives and how its columns are to be read."""

from __future__ import annotations

import pandas as pd

from core.io.tables import read_table
from core.stats.cohort import CohortSpec, validate_cohort
from core.io.paths import SAMPLE_DIR

__all__ = ["SAMPLE_CLINICAL", "SAMPLE_MANIFEST", "SAMPLE_RADIOMICS", "SAMPLE_RADIOMICS_READER2",
           "SAMPLE_RADIOMICS_SETTINGS", "SAMPLE_DEEP",
           "SAMPLE_AE_WEIGHTS", "SAMPLE_AE_LOG", "SAMPLE_EXTERNAL_DIR", "SAMPLE_SPEC",
           "VARIABLE_LABELS", "load_sample_cohort"]

SAMPLE_CLINICAL = SAMPLE_DIR / "clinical.csv"
SAMPLE_MANIFEST = SAMPLE_DIR / "manifest.csv"
SAMPLE_RADIOMICS = SAMPLE_DIR / "features_radiomics.parquet"
SAMPLE_RADIOMICS_READER2 = SAMPLE_DIR / "features_radiomics_reader2.parquet"
SAMPLE_RADIOMICS_SETTINGS = SAMPLE_DIR / "features_radiomics.settings.json"
SAMPLE_DEEP = SAMPLE_DIR / "features_deep.parquet"
SAMPLE_AE_WEIGHTS = SAMPLE_DIR / "ae_weights.safetensors"
SAMPLE_AE_LOG = SAMPLE_DIR / "ae_training_log.csv"
# A second synthetic centre (another seed and scanner mix): clinical table and feature tables only.
SAMPLE_EXTERNAL_DIR = SAMPLE_DIR / "external"

# The reference study's clinical variables. Scanner, lm_type and lm_interval_months are left
# out on purpose: the first is not a patient characteristic, the others restate the outcome.
SAMPLE_SPEC = CohortSpec(
    id_column="patient_id",
    outcome_column="lm",
    continuous=("age", "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"),
    categorical=("sex", "location", "ct_stage", "cn_stage", "differentiation", "lauren", "her2"),
    outcome_labels=("non-LM", "LM"),
)


# How the sample study's variables read on screen (nomogram axes, calculator inputs).
VARIABLE_LABELS = {
    "age": "Age (years)", "sex": "Sex", "location": "Tumour location",
    "tumour_thickness_mm": "Tumour thickness (mm)", "ct_stage": "Clinical T stage", "cn_stage": "Clinical N stage",
    "differentiation": "Differentiation", "lauren": "Lauren type", "her2": "HER2 status",
    "cea_ng_ml": "CEA (ng/mL)", "ca19_9_u_ml": "CA19-9 (U/mL)", "dl_radiomics_score": "DL-radiomics score",
    "radiomics_score": "Radiomics score", "dl_score": "DL score",
}


def load_sample_cohort() -> pd.DataFrame:
    """The sample study's validated clinical table (1001 synthetic patients)."""
    frame = read_table(SAMPLE_CLINICAL)
    return validate_cohort(frame, SAMPLE_SPEC.id_column, SAMPLE_SPEC.outcome_column,
                           continuous=SAMPLE_SPEC.continuous, categorical=SAMPLE_SPEC.categorical)
