"""Comparator learners beside the LASSO score (issue 31): each learner's test AUC and bootstrap optimism on the sample
study, and its apparent and optimism-corrected AUC on the real soft-tissue-sarcoma CT cohort (../shared/data/sts_ct).

    python bench/comparators.py [--n-boot 50] [--where serial|threads|local] [--no-sts] [--no-sample]

Sample study: its radiomics family alone (700 training / 301 test patients; the LASSO keeps 7 of 1,874 features),
the score (logistic refit) and the four comparator learners on the LASSO's selection, each tuned on the training
patients; Harrell's bootstrap optimism with the whole pipeline (screening, LASSO, tuning, fitting) refitted in every
resample. The sarcoma cohort: its 51 CTs' 107 original-image pyradiomics features (extracted once, cached under
artifacts/bench/, which git ignores), no test cohort (every patient trains), the LASSO alone at lambda.min for the
score and every feature that reached it for the comparators, the same learners, the same bootstrap. Writes
bench/comparators/{sample,sts}.csv and prints a Markdown table (the README's).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.stats.cohort import CohortSpec, SplitConfig, split_cohort  # noqa: E402
from core.stats.evaluation import roc_auc  # noqa: E402
from core.stats.outcomes import BinaryOutcome  # noqa: E402
from core.vocabulary import COMPARATOR_METHODS  # noqa: E402
from core.workflows.fit import fit_study, predict_study  # noqa: E402
from core.workflows.study import FeatureFamily, ModelSettings, Study  # noqa: E402
from core.workflows.validation import optimism_corrected_auc  # noqa: E402

OUT = ROOT / "bench" / "comparators"
STS = ROOT.parent / "shared" / "data" / "sts_ct"
LEARNERS = ("random_forest", "svm", "xgboost", "elastic_net")


def _summary(study: Study, n_boot: int, where: str) -> pd.DataFrame:
    """Per model: features, apparent AUC, test AUC (when the study has a test cohort), optimism and corrected AUC."""
    start = time.perf_counter()
    models = fit_study(study)
    predictions = predict_study(study, models)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    optimism = optimism_corrected_auc(study, n_boot=n_boot, seed=1, where=where).table
    boot_seconds = time.perf_counter() - start
    rows = []
    for name in models.model_names:
        if name == "fused" or name == "clinical":
            continue
        train = study.train_ids
        row = {"model": name, "label": study.model_label(name), "features": len(models[name].variables),
               "apparent_auc": roc_auc(study.outcome.loc[train], predictions.loc[train, name]).auc}
        if study.has_test:
            test = study.test_ids
            row["test_auc"] = roc_auc(study.outcome.loc[test], predictions.loc[test, name]).auc
        # Harrell's corrected AUC, and the out-of-bag and .632+ AUCs of the same resamples: a learner that memorises
        # its training patients (a forest, boosting) scores the original cohort, 63 % of whom it was fitted on,
        # almost as well as its resample, so Harrell's optimism understates its overfitting; the out-of-bag AUC
        # (patients each resample's model never saw) and .632+ (Efron & Tibshirani 1997) do not.
        row.update(optimism=optimism.loc[name, "optimism"], corrected_auc=optimism.loc[name, "corrected"],
                   oob_auc=optimism.loc[name, "oob"], b632plus_auc=optimism.loc[name, "b632plus"],
                   n_boot=optimism.loc[name, "n_boot"])
        if name in models.comparators:
            row["hyper_parameters"] = "; ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                for k, v in models[name].params.items())
        rows.append(row)
    print(f"{study.name}: fit {fit_seconds:.0f} s, {n_boot} bootstrap resamples {boot_seconds:.0f} s", flush=True)
    return pd.DataFrame(rows)


def sample_study() -> Study:
    from core.workflows.sample import sample_study as make

    study = make()
    radiomics = study.families[0]
    return study.replace(families=(radiomics,), combined=(), name="Sample study (radiomics family)",
                         is_sample=False).with_settings(comparators=LEARNERS, fused_score=None)


def sts_study() -> Study:
    """The 51 sarcoma CTs' original-image features (extracted once with pyradiomics, cached) and lung metastasis."""
    from core.imaging.extraction.batch import ExtractionSettings, read_manifest, run_batch
    from core.imaging.extraction.preprocess import PreprocessConfig
    from core.imaging.extraction.radiomics import load_params
    from core.workflows.study import make_study

    # Derived from the shared cohort's CTs: cached outside the repository's tracked files (artifacts/ is ignored)
    cache = ROOT / "artifacts" / "bench" / "sts_original_features.csv"
    cache.parent.mkdir(parents=True, exist_ok=True)
    if not cache.is_file():
        manifest = pd.read_csv(STS / "manifest.csv")
        manifest = manifest.assign(image=[str(STS / p) for p in manifest["image"]],
                                   mask=[str(STS / p) for p in manifest["mask"]])
        manifest[["patient_id", "image", "mask"]].to_csv(OUT / "sts_manifest.csv", index=False)
        settings = ExtractionSettings(params=load_params("original"), preprocess=PreprocessConfig())
        result = run_batch(read_manifest(OUT / "sts_manifest.csv"), settings, workers=2)
        (OUT / "sts_manifest.csv").unlink()
        result.features.to_csv(cache)
    features = pd.read_csv(cache, index_col=0)
    features.index = features.index.astype(str)
    clinical = pd.read_csv(STS / "tables" / "clinical_outcome.csv")
    spec = CohortSpec(id_column="patient_id", outcome=BinaryOutcome("lung_mets"), continuous=("age",),
                      categorical=())
    split = split_cohort(clinical, spec, SplitConfig(test_size=0.0, seed=2025))
    # No original-image feature passes the study funnel's t-test on 51 patients: the LASSO alone (lambda.min) picks
    # the score, and the comparators take every feature that reached it (their own selection, the honest test of
    # "would another learner have done better?")
    settings = ModelSettings(clinical_continuous=("age",), clinical_categorical=(), comparators=LEARNERS,
                             comparator_features="screened")
    settings = settings.from_dict({**settings.to_dict(), "screening": {**settings.screening.to_dict(), "rule": "min",
                                                                       "method": "lasso"}})
    return make_study("Soft-tissue sarcoma CT (51 patients)", clinical, spec, split,
                      families=(FeatureFamily(name="radiomics", label="Radiomics", table=features),),
                      settings=settings)


def markdown(table: pd.DataFrame) -> str:
    columns = [c for c in ("label", "features", "apparent_auc", "test_auc", "optimism", "corrected_auc", "oob_auc",
                           "b632plus_auc", "hyper_parameters") if c in table]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])
                                       for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=50)
    parser.add_argument("--where", default="serial", help="where the resamples run (serial, threads, local)")
    parser.add_argument("--no-sts", action="store_true")
    parser.add_argument("--no-sample", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print("comparators:", ", ".join(COMPARATOR_METHODS[m] for m in LEARNERS))
    if not args.no_sample:
        table = _summary(sample_study(), args.n_boot, args.where)
        table.to_csv(OUT / "sample.csv", index=False)
        print(markdown(table), flush=True)
    if not args.no_sts and STS.is_dir():
        table = _summary(sts_study(), args.n_boot, args.where)
        table.to_csv(OUT / "sts.csv", index=False)
        print(markdown(table), flush=True)


if __name__ == "__main__":
    main()
