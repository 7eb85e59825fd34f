"""A participant-flow diagram (as TRIPOD+AI asks, CONSORT-like): the patients in, those excluded to the side, those
included, then one box per cohort side by side. Drawn with matplotlib from plain texts
(``core.workflows.participant_flow.ParticipantFlow`` gives them)."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence

from core.errors import RadNomoError
from core.figures.nomogram import FONT_FAMILY

__all__ = ["flow_diagram"]

_WIDTH_IN, _BOX_W, _BOX_H, _GAP = 7.0, 0.34, 0.11, 0.07  # figure width (in); box width, height, gap (axes units)


def flow_diagram(top: str, excluded: str | None, included: str, cohorts: Sequence[str],
                 externals: Sequence[str] = (), *, fmt: str = "png", dpi: int = 200) -> bytes:
    """The diagram as a file.

    Parameters
    ----------
    top, included : str
        The texts of the first box (the patients in the table) and of the box under it (those included).
    excluded : str or None
        The side box between them (those excluded, with reasons); none when no patient was.
    cohorts : sequence of str
        One box per cohort drawn from the included patients (training, test), side by side under them.
    externals : sequence of str
        One box per external cohort, on the same row, dashed and without an arrow (they come from elsewhere).
    fmt : {"png", "svg", "pdf"}
    dpi : int
        PNG resolution.

    Returns
    -------
    bytes
    """
    if fmt not in ("png", "svg", "pdf"):
        raise RadNomoError(f"format '{fmt}' is not supported; possible values: png, svg, pdf.")
    if not cohorts:
        raise RadNomoError("a participant flow needs at least one cohort (the training patients).")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    rows = 3  # the patients in, those included, the cohorts
    height_in = 1.0 + rows * 1.15
    figure = Figure(figsize=(_WIDTH_IN, height_in))
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    style = {"fontsize": 8, "fontfamily": FONT_FAMILY, "ha": "center", "va": "center"}

    line = 8 * 1.3 / 72 / height_in  # one 8-pt text line, in axes units

    def lines(text: str, width: float) -> list[str]:
        return textwrap.wrap(text, max(12, int(width * _WIDTH_IN * 11)))  # about 11 characters per inch at 8 pt

    def box(x: float, y: float, text: str, width: float, gid: str, height: float, dashed: bool = False) -> None:
        ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.01",
                                    facecolor="white", edgecolor="#333333", lw=0.8,
                                    linestyle="--" if dashed else "-"))
        ax.text(x, y, "\n".join(lines(text, width)), gid=gid, **style)

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=8, lw=0.8,
                                     color="#333333"))

    def height(texts: Sequence[str], width: float) -> float:
        return max(_BOX_H, max(len(lines(t, width)) for t in texts) * line + 0.04)

    step = 1 / (rows + 0.4)
    y_top, y_included, y_cohorts = 1 - 0.7 * step, 1 - 1.7 * step, 1 - 2.7 * step
    top_h = height([top, included], _BOX_W)
    box(0.35, y_top, top, _BOX_W, "flow-top", top_h)
    arrow(0.35, y_top - top_h / 2, 0.35, y_included + top_h / 2)
    if excluded:
        middle = (y_top + y_included) / 2
        box(0.78, middle, excluded, _BOX_W, "flow-excluded", height([excluded], _BOX_W))
        arrow(0.35, middle, 0.78 - _BOX_W / 2, middle)
    box(0.35, y_included, included, _BOX_W, "flow-included", top_h)
    row = [*cohorts, *externals]
    width = min(_BOX_W, (1 - _GAP * (len(row) + 1)) / len(row))
    row_h = height(row, width)
    for index, text in enumerate(row):
        x = _GAP + width / 2 + index * (width + _GAP)
        derived = index < len(cohorts)
        if derived:
            arrow(0.35, y_included - top_h / 2, x, y_cohorts + row_h / 2)
        box(x, y_cohorts, text, width, f"flow-cohort-{index}" if derived else f"flow-external-{index - len(cohorts)}",
            row_h, dashed=not derived)
    buffer = io.BytesIO()
    metadata = {"png": {"Software": "RadNomo"}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    figure.savefig(buffer, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    return buffer.getvalue()
