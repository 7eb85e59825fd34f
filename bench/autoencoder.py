"""Autoencoder throughput: training and inference samples per second and peak memory, CPU (and GPU if present).

    python bench/autoencoder.py [--samples 48] [--crop 64] [--base-channels 16] [--batch 8]

Uses random crops (the speed does not depend on content). Prints one table row per device.
Peak memory: the process's maximum resident set on CPU; torch.cuda.max_memory_allocated on GPU.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import results  # noqa: E402
from core.imaging.deep.model import AE3D, AEConfig  # noqa: E402
from core.imaging.deep.train import _weighted_mse, set_determinism  # noqa: E402


def measure(device: str, config: AEConfig, samples: int) -> dict[str, float]:
    set_determinism(0)
    data = torch.rand(samples, 2, config.crop_size, config.crop_size, config.crop_size)
    model = AE3D(config).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    model.train()
    batch = data[: config.batch_size].to(device)  # warm-up step, not timed
    _weighted_mse(model(batch), batch, config.roi_weight).backward()
    sync()
    start = time.perf_counter()
    for first in range(0, samples, config.batch_size):
        batch = data[first:first + config.batch_size].to(device)
        optimiser.zero_grad()
        _weighted_mse(model(batch), batch, config.roi_weight).backward()
        optimiser.step()
    sync()
    train_rate = samples / (time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        for first in range(0, samples, 16):
            model.encode(data[first:first + 16].to(device))
        sync()
    infer_rate = samples / (time.perf_counter() - start)
    peak = (torch.cuda.max_memory_allocated() / 2**20 if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"train": train_rate, "infer": infer_rate, "peak_mib": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=48)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--base-channels", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--json", help="also write the result rows here")
    args = parser.parse_args()
    config = AEConfig(crop_size=args.crop, base_channels=args.base_channels, batch_size=args.batch)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"AE3D crop {args.crop}^3, base channels {args.base_channels}, latent {config.latent_size}, "
          f"batch {args.batch}, {args.samples} samples; torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print("| device | training samples/s | inference samples/s | peak memory (MiB) |")
    print("|---|---|---|---|")
    rows: list[dict] = []
    for device in devices:
        row = measure(device, config, args.samples)
        name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        print(f"| {name} | {row['train']:.1f} | {row['infer']:.1f} | {row['peak_mib']:.0f} |")
        rows += [results.row(f"autoencoder training, {name}, crop {args.crop}^3", row["train"], "samples/s"),
                 results.row(f"autoencoder inference, {name}, crop {args.crop}^3", row["infer"], "samples/s")]
    results.write(args.json, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
