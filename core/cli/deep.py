"""Command line: train the autoencoder on a cohort's training split and extract deep features for every case.

    python -m core.cli.deep MANIFEST --cohort clinical.csv --id-column patient_id --outcome-column lm
                        --out-dir DIR [--test-size 0.3] [--seed 2025] [--epochs 30] [--latent 512]
                        [--crop 64] [--batch 8] [--lr 0.001] [--workers 2] [--device auto]

The split is the dashboard's (outcome-stratified, seeded), so the autoencoder never sees a test
patient. Writes DIR/ae_weights.safetensors, DIR/ae_training_log.csv and DIR/features_deep.parquet.

    python -m core.cli.deep MANIFEST --weights ae_weights.safetensors --out-dir DIR [--workers 2]

encodes another cohort (e.g. an external centre) with an already trained autoencoder, no training:
writes DIR/features_deep.parquet.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import RadNomoError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.deep", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("--cohort", help="clinical table with the ID and outcome columns (to train)")
    parser.add_argument("--weights", help="an already trained autoencoder: encode the manifest's cases with it")
    parser.add_argument("--id-column", default="patient_id")
    parser.add_argument("--outcome-column", default="lm")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--test-size", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=2025, help="split seed (the dashboard's default)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--latent", type=int, default=512)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from core.imaging.deep.model import AEConfig
    from core.imaging.extraction.batch import read_manifest
    from core.io.tables import read_table
    from core.stats.cohort import CohortSpec, SplitConfig, split_cohort, validate_cohort
    from core.workflows.deep import train_deep_family

    start = time.perf_counter()
    if args.weights:
        return _encode_only(args.manifest, args.weights, Path(args.out_dir), args.workers, args.device, start)
    if not args.cohort:
        parser.error("--cohort is needed to train (or give --weights to encode with a trained autoencoder)")
    out = Path(args.out_dir)

    def on_epoch(epoch: int, train_loss: float, val_loss: float) -> None:
        print(f"epoch {epoch}: training {train_loss:.5f}, validation {val_loss:.5f} "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)

    try:
        spec = CohortSpec(id_column=args.id_column, outcome_column=args.outcome_column)
        cohort = validate_cohort(read_table(args.cohort), spec.id_column, spec.outcome_column)
        split = split_cohort(cohort, spec, SplitConfig(test_size=args.test_size, seed=args.seed))
        manifest = read_manifest(args.manifest)
        config = AEConfig(crop_size=args.crop, latent_size=args.latent, epochs=args.epochs, batch_size=args.batch,
                          learning_rate=args.lr)
        out.mkdir(parents=True, exist_ok=True)
        result = train_deep_family(manifest, split.train_ids, config, out / "ae_weights.safetensors",
                                   workers=args.workers, device=args.device, on_epoch=on_epoch)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result.training.history.to_csv(out / "ae_training_log.csv", index=False)
    result.family.table.to_parquet(out / "features_deep.parquet")
    print(f"trained on {result.n_training_cases} training patients ({result.training.device}), kept epoch "
          f"{result.training.best_epoch}; {result.family.table.shape[0]} x {config.latent_size} deep features in "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def _encode_only(manifest_path: str, weights: str, out: Path, workers: int, device: str, start: float) -> int:
    from core.imaging.deep.features import latents_for_manifest
    from core.imaging.extraction.batch import read_manifest

    try:
        manifest = read_manifest(manifest_path)
        table = latents_for_manifest(manifest, weights, workers=workers, device=device)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    table.to_parquet(out / "features_deep.parquet")
    print(f"{table.shape[0]} x {table.shape[1]} deep features with {weights} in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
