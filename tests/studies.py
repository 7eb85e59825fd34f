"""Small studies cut from the sample study, shared by the tests that refit a whole study many times."""

from __future__ import annotations

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
