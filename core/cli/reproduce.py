"""Command line: the reference study reproduced on the sample study.

    python -m core.cli.reproduce --out DIR

Writes DIR/table2.csv, DIR/table3.csv and their Markdown versions (our rows above the study's); see
:mod:`core.workflows.reproduce`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from core.workflows.reproduce import markdown_table2, markdown_table3, reproduce

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.reproduce",
                                     description="Reproduce the reference study's Tables 2 and 3 on the sample study.")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
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
