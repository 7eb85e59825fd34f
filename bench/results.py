"""One row per measurement, shared by the bench scripts and ``bench/run_all.py``.

Each script prints its own report and, given ``--json PATH``, also writes its rows there:
``benchmark`` (what was measured), ``radnomo`` and ``reference`` (values in ``unit``),
``reference_tool`` and ``ratio`` (> 1 = RadNomo faster; None without a reference).
"""

from __future__ import annotations

import json
from pathlib import Path


def row(benchmark: str, radnomo: float, unit: str, *, reference: float | None = None,
        reference_tool: str | None = None, higher_is_faster: bool = False) -> dict:
    """A result row; the ratio is reference / RadNomo for times, RadNomo / reference for rates."""
    ratio = None
    if reference is not None and radnomo:
        ratio = radnomo / reference if higher_is_faster else reference / radnomo
    return {"benchmark": benchmark, "radnomo": radnomo, "reference": reference, "reference_tool": reference_tool,
            "unit": unit, "ratio": ratio}


def write(path: str | None, rows: list[dict]) -> None:
    """Write ``rows`` as JSON to ``path`` (nothing when path is None)."""
    if path:
        Path(path).write_text(json.dumps(rows, indent=1))
