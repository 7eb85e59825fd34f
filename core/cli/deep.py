"""Command line: train the autoencoder on a cohort's training split and extract deep features for every case.

    python -m core.cli.deep MANIFEST --cohort clinical.csv --id-column patient_id --outcome-column lm
                        --out-dir DIR [--test-size 0.3] [--seed 2025] [--epochs 30] [--latent 512]
                        [--crop 64] [--batch 8] [--lr 0.001] [--workers 2] [--device auto]

The split is the dashboard's (outcome-stratified, seeded), so the autoencoder never sees a test
patient. Writes DIR/ae_weights.safetensors, DIR/ae_training_log.csv, DIR/features_deep.parquet and
DIR/deep_run.json (each file's hash) as one set: the run writes into a fresh sibling folder that replaces
DIR in one rename, so a run stopped at any moment leaves DIR's previous set or the new one, never new
weights beside old features. DIR must be new, empty, or hold only a previous run's set.

    python -m core.cli.deep MANIFEST --weights ae_weights.safetensors --out-dir DIR [--workers 2]

encodes another cohort (e.g. an external centre) with an already trained autoencoder, no training:
writes DIR/features_deep.parquet and DIR/deep_run.json the same way.

Every number is checked before any work: --crop a multiple of 16 from 16 to 192 voxels, --epochs 1 to
1,000, --latent 1 to 4,096, --batch 2 to 512, --lr and --test-size finite in (0, 1), --seed 0 to 2**32 - 1,
--workers 1 to the machine's limit; anything else exits with code 2 and a usage message.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.cli.arguments import bounded_int, finite_float, seed
from core.errors import RadNomoError
from core.io.processes import MAX_WORKERS

__all__ = ["main", "MAX_CROP", "MAX_EPOCHS", "MAX_LATENT", "MAX_BATCH"]

#: Largest crop edge, voxels: 192 (two channels of 192**3 float16 crops take 28 MB a case; 1e6 would ask for
#: exabytes). Smallest: 16, the autoencoder's four stride-2 blocks.
MAX_CROP = 192
MAX_EPOCHS = 1_000
MAX_LATENT = 4_096
MAX_BATCH = 512


def _crop(text: str) -> int:
    """argparse type of --crop: a multiple of 16 from 16 to :data:`MAX_CROP`."""
    value = bounded_int(16, MAX_CROP, "--crop")(text)
    if value % 16:
        raise argparse.ArgumentTypeError(f"--crop = {value} must be a multiple of 16 (16, 32, 48, 64, ...).")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.deep", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest")
    parser.add_argument("--cohort", help="clinical table with the ID and outcome columns (to train)")
    parser.add_argument("--weights", help="an already trained autoencoder: encode the manifest's cases with it")
    parser.add_argument("--id-column", default="patient_id")
    parser.add_argument("--outcome-column", default="lm")
    parser.add_argument("--out-dir", required=True)
    parser.add_argument("--test-size", type=finite_float(0, 0.9, "--test-size", open_low=True), default=0.3)
    parser.add_argument("--seed", type=seed(), default=2025, help="split seed (the dashboard's default)")
    parser.add_argument("--epochs", type=bounded_int(1, MAX_EPOCHS, "--epochs"), default=30)
    parser.add_argument("--latent", type=bounded_int(1, MAX_LATENT, "--latent"), default=512)
    parser.add_argument("--crop", type=_crop, default=64,
                        help=f"crop edge in voxels, a multiple of 16 up to {MAX_CROP}")
    parser.add_argument("--batch", type=bounded_int(2, MAX_BATCH, "--batch"), default=8)
    parser.add_argument("--lr", type=finite_float(0, 0.99, "--lr", open_low=True), default=1e-3)
    parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS, "--workers"), default=1)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from core.imaging.deep.model import AEConfig
    from core.imaging.extraction.batch import read_manifest
    from core.io.tables import read_table
    from core.stats.cohort import CohortSpec, SplitConfig, split_cohort, validate_cohort
    from core.workflows.deep import train_deep_outputs

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
        cohort = validate_cohort(read_table(args.cohort), spec.id_column, spec.outcome)
        split = split_cohort(cohort, spec, SplitConfig(test_size=args.test_size, seed=args.seed))
        manifest = read_manifest(args.manifest)
        config = AEConfig(crop_size=args.crop, latent_size=args.latent, epochs=args.epochs, batch_size=args.batch,
                          learning_rate=args.lr)
        result = train_deep_outputs(manifest, split.train_ids, config, out, workers=args.workers,
                                    device=args.device, on_epoch=on_epoch)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"trained on {result.n_training_cases} training patients ({result.training.device}), kept epoch "
          f"{result.training.best_epoch}; {result.family.table.shape[0]} x {config.latent_size} deep features in "
          f"{time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


def _encode_only(manifest_path: str, weights: str, out: Path, workers: int, device: str, start: float) -> int:
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.deep import encode_deep_outputs

    try:
        manifest = read_manifest(manifest_path)
        table = encode_deep_outputs(manifest, weights, out, workers=workers, device=device)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{table.shape[0]} x {table.shape[1]} deep features with {weights} in {time.perf_counter() - start:.0f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
