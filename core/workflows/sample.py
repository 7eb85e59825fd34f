"""The bundled synthetic sample study: where it lives, how its columns read, and the study itself.

The sample is one :class:`core.workflows.study.Study` among others: the reference study's shape
(a radiomics family, a deep family, their combination DL-radiomics, the fused model on the
DL-radiomics score, synchronous vs metachronous LM as the subgroup comparison) is its settings here,
not the code's.
"""

from __future__ import annotations

import json

import pandas as pd

from core.errors import RadNomoError, listed
from core.io.paths import SAMPLE_DIR
from core.io.tables import read_table
from core.stats.cohort import CohortSpec, SplitConfig, validate_cohort
from core.stats.outcomes import BinaryOutcome, SurvivalOutcome
from core.workflows.study import (Autoencoder, CombinedFamily, FeatureFamily, ModelSettings, Study, SubgroupSettings,
                                  make_study)

__all__ = ["SAMPLE_CLINICAL", "SAMPLE_MANIFEST", "SAMPLE_RADIOMICS", "SAMPLE_RADIOMICS_READER2",
           "SAMPLE_RADIOMICS_SETTINGS", "SAMPLE_DEEP",
           "SAMPLE_AE_WEIGHTS", "SAMPLE_AE_LOG", "SAMPLE_EXTERNAL_DIR", "SAMPLE_SPEC",
           "VARIABLE_LABELS", "SAMPLE_NAME", "SAMPLE_SUBGROUP", "SAMPLE_TRUTH", "SAMPLE_VALIDATION_DIR",
           "SAMPLE_REGENERATE", "SAMPLE_FIT", "SAMPLE_SURVIVAL_FIT", "load_sample_cohort", "sample_external_tables",
           "load_sample_fit",
           "save_sample_fit", "load_sample_truth", "sample_families",
           "sample_study", "SAMPLE_SURVIVAL", "SAMPLE_SURVIVAL_NAME", "SAMPLE_SURVIVAL_SPEC",
           "load_sample_survival_table", "sample_survival_study"]

SAMPLE_NAME = "Sample study (synthetic)"
SAMPLE_TRUTH = SAMPLE_DIR / "generator_truth.csv"
SAMPLE_VALIDATION_DIR = SAMPLE_DIR / "validation"
# The sample study fitted with its default settings, screening included (python -m core.cli.sample_fit): the
# dashboard's first visits show it at once instead of fitting it again.
SAMPLE_FIT = SAMPLE_DIR / "fitted" / "models.json.gz"
# The survival sample study's stored fit (the same command writes both).
SAMPLE_SURVIVAL_FIT = SAMPLE_DIR / "fitted" / "survival_models.json.gz"
# The command that renders all 1001 sample CTs (only a subset is bundled).
SAMPLE_REGENERATE = "python -m core.cli.synthetic --n 1001 --seed 20250601 --out sample_data --workers 2"

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
    outcome=BinaryOutcome("lm", ("non-LM", "LM")),
    continuous=("age", "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"),
    categorical=("sex", "location", "ct_stage", "cn_stage", "differentiation", "lauren", "her2"),
)


# How the sample study's variables read on screen (nomogram axes, calculator inputs).
VARIABLE_LABELS = {
    "age": "Age (years)", "sex": "Sex", "location": "Tumour location",
    "tumour_thickness_mm": "Tumour thickness (mm)", "ct_stage": "Clinical T stage", "cn_stage": "Clinical N stage",
    "differentiation": "Differentiation", "lauren": "Lauren type", "her2": "HER2 status",
    "cea_ng_ml": "CEA (ng/mL)", "ca19_9_u_ml": "CA19-9 (U/mL)", "scanner": "Scanner",
}


def load_sample_cohort() -> pd.DataFrame:
    """The sample study's validated clinical table (1001 synthetic patients)."""
    frame = read_table(SAMPLE_CLINICAL)
    return validate_cohort(frame, SAMPLE_SPEC.id_column, SAMPLE_SPEC.outcome,
                           continuous=SAMPLE_SPEC.continuous, categorical=SAMPLE_SPEC.categorical)


# The reference study's Table 3: synchronous vs metachronous LM among the patients with LM.
SAMPLE_SUBGROUP = SubgroupSettings(column="lm_type", population="events", positive="synchronous",
                                   negative="metachronous")


def sample_families() -> tuple[tuple[FeatureFamily, ...], tuple[CombinedFamily, ...]]:
    """The sample's feature families as bundled: radiomics (with the second reader's table and the
    extraction settings), deep ("dl", with the autoencoder's weights), and DL-radiomics = both.

    Families whose files are not there are left out.
    """
    families = []
    if SAMPLE_RADIOMICS.is_file():
        settings = json.loads(SAMPLE_RADIOMICS_SETTINGS.read_text()) if SAMPLE_RADIOMICS_SETTINGS.is_file() else None
        reader2 = pd.read_parquet(SAMPLE_RADIOMICS_READER2) if SAMPLE_RADIOMICS_READER2.is_file() else None
        families.append(FeatureFamily(name="radiomics", label="Radiomics", table=pd.read_parquet(SAMPLE_RADIOMICS),
                                      kind="radiomics", extraction=settings, reader2=reader2,
                                      source="precomputed for the sample study (python -m core.cli.extract, "
                                             "study params)"))
    if SAMPLE_DEEP.is_file():
        autoencoder = None
        if SAMPLE_AE_WEIGHTS.is_file():
            history = pd.read_csv(SAMPLE_AE_LOG) if SAMPLE_AE_LOG.is_file() else None
            autoencoder = Autoencoder(weights=str(SAMPLE_AE_WEIGHTS), history=history)
        families.append(FeatureFamily(name="dl", label="DL", table=pd.read_parquet(SAMPLE_DEEP), kind="deep",
                                      autoencoder=autoencoder,
                                      source="precomputed for the sample study (autoencoder trained on its "
                                             "training cohort)"))
    names = [f.name for f in families]
    combined = (CombinedFamily(name="dl_radiomics", label="DL-radiomics", members=("radiomics", "dl")),) \
        if names == ["radiomics", "dl"] else ()
    return tuple(families), combined


def sample_study(split: SplitConfig | None = None, settings: ModelSettings | None = None) -> Study:
    """The bundled sample study: 1001 synthetic patients, the study's 7:3 split (seed 2025), its families."""
    families, combined = sample_families()
    return make_study(SAMPLE_NAME, read_table(SAMPLE_CLINICAL), SAMPLE_SPEC, split, families=families,
                      combined=combined, settings=settings or ModelSettings(), labels=VARIABLE_LABELS,
                      subgroup=SAMPLE_SUBGROUP, is_sample=True)


# The same patients' overall survival (sample_data/README.md, "Overall survival"): the time-to-event sample study.
SAMPLE_SURVIVAL = SAMPLE_DIR / "survival.csv"
SAMPLE_SURVIVAL_NAME = "Sample study, overall survival (synthetic)"
# The binary sample's clinical variables, with overall survival as the outcome. lm, lm_type and lm_interval_months
# stay out as in the binary study, and more so here: a metastasis, its timing and its interval are found during
# follow-up (after the time origin), so as predictors they would look into the future they are to predict.
SAMPLE_SURVIVAL_SPEC = CohortSpec(
    id_column=SAMPLE_SPEC.id_column,
    outcome=SurvivalOutcome(time_column="os_months", event_column="death", time_unit="months",
                            horizons=(12.0, 36.0, 60.0), labels=("alive", "death")),
    continuous=SAMPLE_SPEC.continuous,
    categorical=SAMPLE_SPEC.categorical,
)


def load_sample_survival_table() -> pd.DataFrame:
    """The sample's clinical table (``clinical.csv``) with each patient's overall survival (``survival.csv``:
    ``os_months`` in months, ``death`` 1/0) joined on ``patient_id``, as read (not yet validated).

    Raises
    ------
    RadNomoError
        If the two files do not list the same patients (a partial regeneration of ``sample_data``).
    """
    clinical, survival = read_table(SAMPLE_CLINICAL), read_table(SAMPLE_SURVIVAL)
    key = SAMPLE_SPEC.id_column
    clinical_ids, survival_ids = set(clinical[key].astype(str)), set(survival[key].astype(str))
    if clinical_ids != survival_ids:  # never a silent inner join: a patient lost here would be lost unsaid
        unmatched = sorted(clinical_ids ^ survival_ids)
        raise RadNomoError(f"{SAMPLE_SURVIVAL.name} and {SAMPLE_CLINICAL.name} do not list the same patients "
                           f"({len(unmatched)} in one only: {listed(unmatched)}); regenerate the sample "
                           f"({SAMPLE_REGENERATE}).")
    return clinical.merge(survival, on=key, how="left", validate="one_to_one")


def sample_survival_study(split: SplitConfig | None = None, settings: ModelSettings | None = None) -> Study:
    """The time-to-event sample study: the binary sample's 1001 synthetic patients, clinical variables and
    feature families, with overall survival as the outcome (``os_months``, months; ``death`` 1 = died, 0 =
    censored; horizons 12, 36 and 60 months).

    The split is the binary sample's design (7:3, seed 2025) stratified by the event (death), so it differs from
    the binary study's split. ``settings`` None takes the time-to-event defaults
    (:meth:`core.workflows.study.ModelSettings.for_outcome`: Cox refit, univariable Cox Wald test). No subgroup
    comparison: the binary study's (synchronous vs metachronous LM) describes the metastasis outcome.
    """
    families, combined = sample_families()
    return make_study(SAMPLE_SURVIVAL_NAME, load_sample_survival_table(), SAMPLE_SURVIVAL_SPEC, split,
                      families=families, combined=combined, settings=settings, labels=VARIABLE_LABELS,
                      is_sample=True)


def load_sample_truth() -> pd.DataFrame:
    """The sample cohort's hidden phenotype per patient (generator_truth.csv): teaching only, never a predictor."""
    return pd.read_csv(SAMPLE_TRUTH, dtype={"patient_id": str})


def sample_external_tables(folder=SAMPLE_EXTERNAL_DIR) -> dict[str, pd.DataFrame]:
    """An external cohort's feature tables in the sample's layout (features_radiomics.parquet and
    features_deep.parquet), by the sample study's family names ("radiomics", "dl"); absent files left out."""
    from pathlib import Path

    folder = Path(folder)
    files = {"radiomics": folder / "features_radiomics.parquet", "dl": folder / "features_deep.parquet"}
    return {name: pd.read_parquet(path) for name, path in files.items() if path.is_file()}


def save_sample_fit(study: Study, models, path=SAMPLE_FIT) -> None:
    """Store a fit of the sample study (with its screening) under the study's fingerprint, gzip-compressed JSON."""
    import gzip
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"fingerprint": study.model_fingerprint, "command": "python -m core.cli.sample_fit",
               "models": models.to_dict(include_screening=True)}
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)


#: (stored fit file, its modification time) -> the fingerprint of the fit it holds, once read in this process.
_FIT_FINGERPRINTS: dict[tuple[str, int], str | None] = {}


def load_sample_fit(study: Study, path=None):
    """The stored fit of ``study`` when it is one stored (same fingerprint: data, settings, name); else None.

    ``path``: one stored fit to look in; by default the binary and the survival sample's (SAMPLE_FIT,
    SAMPLE_SURVIVAL_FIT), whichever matches.
    """
    import gzip
    from pathlib import Path

    from core.workflows.fit import StudyModels

    if not study.is_sample:
        return None
    for candidate in ((SAMPLE_FIT, SAMPLE_SURVIVAL_FIT) if path is None else (path,)):
        candidate = Path(candidate)
        if not candidate.is_file():
            continue
        # A file already read is not parsed again for a study it does not hold (every threshold change of the
        # sample asks; parsing both files takes about 0.2 s).
        version = (str(candidate.resolve()), candidate.stat().st_mtime_ns)
        if _FIT_FINGERPRINTS.get(version, study.model_fingerprint) != study.model_fingerprint:
            continue
        with gzip.open(candidate, "rt", encoding="utf-8") as handle:
            payload = json.load(handle)
        _FIT_FINGERPRINTS[version] = payload.get("fingerprint")
        if payload.get("fingerprint") == study.model_fingerprint:  # the fit, whatever the evaluation settings
            return StudyModels.from_dict(payload["models"])
    return None
