"""Command line: the reference study reproduced on the sample study, or a saved study reproduced from its own data.

    python -m core.cli.reproduce --out DIR [--study FOLDER]

Without --study: writes DIR/table2.csv, DIR/table3.csv and their Markdown versions (our rows above the study's);
see :mod:`core.workflows.reproduce`.

With --study FOLDER (a saved study of any outcome type: the dashboard's "Save", ``core.cli.analyse``'s DIR/study):
its pipeline is refitted from scratch on its saved data, split and settings, and DIR/table2.csv holds the refit's
Table 2 (a time-to-event study's: Harrell's and Uno's C, and AUC(t) and the risk groups at each horizon); when the
study was saved with its models, DIR/reproduced.csv says, per prediction column, how far the refit's predictions
lie from the saved models' for every patient (:func:`core.workflows.reproduce.compare_predictions`), and the exit
code is 1 when any lies further than :data:`core.workflows.reproduce.REPRODUCED_TOLERANCE`.
On bad input it exits 2 with one specific message on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from core.cli.arguments import write_csv
from core.errors import RadNomoError
from core.workflows.reproduce import REPRODUCED_TOLERANCE, markdown_table2, markdown_table3, reproduce, reproduce_saved

__all__ = ["main", "SUMMARY_COLUMNS"]

#: The columns of a reproduced study's Table 2 printed (those it has): discrimination with its 95 % CI.
SUMMARY_COLUMNS = ("cohort", "model", "n", "events", "auc", "auc_low", "auc_high", "c_index", "c_low", "c_high")


def _saved(folder: Path, out: Path) -> int:
    """Reproduce the saved study in ``folder`` into ``out``; 0 when reproduced (or nothing to compare), else 1."""
    result = reproduce_saved(folder)
    write_csv(result.table2, out / "table2.csv", "--out")
    print(f"{result.study.name}: refitted from its saved data and settings on {len(result.study.train_ids)} "
          "training patients.")
    shown = [c for c in SUMMARY_COLUMNS if c in result.table2.columns]  # the whole table is in table2.csv
    print(result.table2[shown].round(3).to_string(index=False))
    if result.comparison is None:
        print("The study was saved without its models: nothing to compare the refit with.")
        return 0
    write_csv(result.comparison, out / "reproduced.csv", "--out")
    differing = result.comparison[~result.comparison["reproduced"]]
    if len(differing):
        print(f"NOT reproduced: {len(differing)} prediction column(s) differ from the saved models' by more than "
              f"{REPRODUCED_TOLERANCE:g} (or for other patients): {', '.join(differing['column'].iloc[:5])}"
              + (", ..." if len(differing) > 5 else "") + f"; see {out / 'reproduced.csv'}.")
        return 1
    print(f"Reproduced: every prediction of the refit is within {REPRODUCED_TOLERANCE:g} of the saved models' "
          f"(largest difference {result.comparison['max_abs_difference'].max():.2g}).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.reproduce",
                                     description="Reproduce the reference study's Tables 2 and 3 on the sample study, "
                                                 "or a saved study from its own data and settings (--study).")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--study", default=None, help="a saved study folder (with study.json) to reproduce")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RadNomoError(f"--out '{out}' cannot be created ({error.strerror or error}); give a writable "
                               "folder.") from error
        if args.study is not None:
            return _saved(Path(args.study), out)
    except RadNomoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    performance, by_type = reproduce()
    performance.to_csv(out / "table2.csv", index=False)
    by_type.to_csv(out / "table3.csv", index=False)
    (out / "table2.md").write_text(markdown_table2(performance))
    (out / "table3.md").write_text(markdown_table3(by_type))
    print(markdown_table2(performance))
    print(markdown_table3(by_type))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
