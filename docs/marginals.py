"""Print the generated sample cohort's per-outcome marginals next to the published Table 1 (combined cohorts).

Usage: python docs/marginals.py [sample_data/clinical.csv]   -> a Markdown table on stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.imaging.synthetic_targets import PUBLISHED_TABLE1, combined_continuous, combined_proportions  # noqa: E402


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "sample_data/clinical.csv"
    clinical = pd.read_csv(path)
    clinical["cea_above_5"] = (clinical["cea_ng_ml"] > 5).map({True: "yes", False: "no"})
    clinical["ca19_9_above_37"] = (clinical["ca19_9_u_ml"] > 37).map({True: "yes", False: "no"})
    groups = {0: clinical[clinical.lm == 0], 1: clinical[clinical.lm == 1]}
    print("| Characteristic | non-LM: Table 1 | non-LM: generated | LM: Table 1 | LM: generated |")
    print("|---|---|---|---|---|")
    for name, spec in PUBLISHED_TABLE1.items():
        if isinstance(spec, tuple):
            target = combined_continuous(name)
            cells = [f"{target[k].mean:.2f} ± {target[k].sd:.2f} | {groups[k][name].mean():.2f} ± "
                     f"{groups[k][name].std():.2f}" for k in (0, 1)]
            print(f"| {name} (mean ± SD) | {cells[0]} | {cells[1]} |")
            continue
        target = combined_proportions(name)
        for level in spec:
            if level == "no":
                continue
            cells = [f"{100 * target[k][level]:.1f} % | {100 * (groups[k][name] == level).mean():.1f} %"
                     for k in (0, 1)]
            print(f"| {name} = {level} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
