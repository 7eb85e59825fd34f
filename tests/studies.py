"""Small studies cut from the sample study, shared by the tests that refit a whole study many times."""

from __future__ import annotations

from pathlib import Path

from core.stats.cohort import SplitConfig, split_cohort
from core.workflows.study import FeatureFamily, ModelSettings, Study


def small_sample_study(sample_study: Study, split: SplitConfig, *, n: int = 300, widths: tuple[int, ...] = (150, 60),
                       **changes) -> Study:
    """The sample study's first ``n`` patients, each family cut to its first ``widths`` features, split by
    ``split``, with the clinical model of tumour thickness and CEA; ``changes`` (any Study field) applied last."""
    ids = sample_study.cohort.index[:n]
    # Imported families of the cut tables (no second reader, no autoencoder: nothing to recompute for them).
    families = tuple(FeatureFamily(name=f.name, label=f.label, table=f.table.loc[ids].iloc[:, :width])
                     for f, width in zip(sample_study.families, widths, strict=True))
    cohort = sample_study.cohort.loc[ids]
    settings = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml"), clinical_categorical=())
    return sample_study.replace(**{"cohort": cohort, "families": families, "settings": settings, "is_sample": False,
                                   "split": split_cohort(cohort.reset_index(), sample_study.spec, split), **changes})


def sample_slice_arguments(folder: Path, *, patients: int = 300, features: int = 80) -> list[str]:
    """``core.analyse`` arguments of the sample study's first ``patients`` (its clinical table) and their first
    ``features`` radiomics features, written as CSV files into ``folder``: the lm outcome, the clinical model of
    thickness and CEA with sex, no bootstrap (add ``--out``)."""
    import pandas as pd

    from core.io.paths import SAMPLE_DIR

    clinical = pd.read_csv(SAMPLE_DIR / "clinical.csv", dtype={"patient_id": str}).iloc[:patients]
    table = pd.read_parquet(SAMPLE_DIR / "features_radiomics.parquet").loc[clinical["patient_id"]].iloc[:, :features]
    clinical.to_csv(folder / "clinical.csv", index=False)
    table.reset_index(names="patient_id").to_csv(folder / "radiomics.csv", index=False)
    return ["--clinical", str(folder / "clinical.csv"), "--id", "patient_id", "--outcome", "lm",
            "--continuous", "tumour_thickness_mm,cea_ng_ml", "--categorical", "sex",
            "--features", f"radiomics={folder / 'radiomics.csv'}", "--n-boot", "0"]
