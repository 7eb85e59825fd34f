"""The nomogram as a picture: a layout engine whose tick labels never overlap, and its drawings.

:func:`nomogram_layout` turns a :class:`core.stats.modeling.Nomogram` into a :class:`NomogramLayout`
(plain frozen data: every axis, tick, label box and the patient's marks, in pixels);
:func:`nomogram_plotly` draws it for the dashboard, :func:`nomogram_matplotlib` and
:func:`nomogram_file` for reports (PNG at 300 dpi, SVG, PDF; sized for an A4 page or a 16:9 slide).

The axes are R rms::nomogram's (rms 6.5, R/nomogram.s): a 0-100 Points axis, one axis per predictor,
Total points over ``pretty(c(0, sum.max))`` and the risk axis at chosen probabilities (see
:class:`Nomogram`). The labels are fitted as rms's plot.nomogram (R/plot.nomogram.s) and R's
``axis()`` fit them, with the same remedies made automatic:

* numeric axes (Points, continuous predictors, Total points): R's ``axis()`` leaves out a label
  that would come closer than one "m" to the previous one (``gap.axis = 1``); rms adds
  ``label.every`` to label every k-th tick. Here the smallest k whose labels fit is chosen,
  from every 2nd on preferring round steps (of 5-unit ticks, every 4th gives 20s before every 3rd
  gives 15s); staggering and then rotating (90 degrees) are the fallbacks for very short axes;
* numeric values of any size: an axis whose ticks reach 10,000 (a volume in mm³) is labelled in
  thousands (or millions ...), said in its title ("Volume (×1,000)"), so "700000" never crowds the
  axis; ticks of 1,000-9,999 get thousands separators; ticks below 0.01 are given in ×10⁻³ (or ⁻⁶) units.
  An axis too short for even its two end labels side by side at their ticks lists them apart, each
  joined to its tick by a leader line, before staggering them below and above;
* categorical predictors: rms always alternates adjacent levels (sorted by points) below and above
  the line. Here levels stay on one row when they fit, and otherwise go below / above their ticks.
  Where that is not enough (three or more levels on a short axis), the levels are listed on one
  row below, in the order of their ticks, spread just enough to clear each other, each joined to its
  tick by a leader line, so every label can be matched to its tick; only when even that row is wider
  than the scale do they go onto further rows (first-fit on their left edges, the fewest rows an
  interval layout allows). No level is ever left unlabelled;
* the risk axis: rms draws each ``fun.at`` label separately, so crowded risks overprint (its remedy
  is ``fun.side``, labels above / below by hand). Here labels are kept on one row if they fit, else
  staggered, else the less round risks (20 %, 40 % ...) lose their labels first (their ticks stay).

A Cox model's nomogram (:func:`cox_nomogram_layout`, a :class:`core.stats.survival.nomogram.CoxNomogram`)
has the same Points, predictor and Total points axes, and in place of the risk axis one axis of predicted
survival probability per horizon (rms ``nomogram(fit, fun = Survival(fit)(t, lp))``, labelled as the risk
axis is) and, where it is reached within follow-up, an axis of median survival time (rms ``Quantile(fit)``),
labelled as a numeric axis; the patient is marked on each, the guide runs from Total points to the last.

Text is measured with the real font metric (FreeType through matplotlib: ``TextToPath`` outlines and
the Agg renderer's ``FT2Font`` widths, see :func:`text_width`) for DejaVu Sans, matplotlib's default
font, so the matplotlib drawing is measured exactly; browsers draw the plotly figure with Arial /
Helvetica (or Liberation Sans) where present, which are narrower, so the measure errs on the safe side.

Units: the layout is in "px": CSS pixels for plotly; points (1/72 inch) for matplotlib, so a layout
``width_px=482`` is 170 mm on paper. ``font_size`` is in the same unit.
"""

from __future__ import annotations

import io
import itertools
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from core.errors import RadNomoError
from core.stats.modeling import Nomogram
from core.stats.survival.nomogram import CoxNomogram
from core.vocabulary import horizon_column

__all__ = ["MEDIAN_AXIS", "PAGES", "PALETTE", "AxisLayout", "NomogramLayout", "PatientMarks", "TickLabel",
           "cox_nomogram_layout", "nomogram_file", "nomogram_layout", "nomogram_matplotlib", "nomogram_plotly",
           "page_layout", "relayout", "survival_axis_key", "text_width"]

# Okabe-Ito colours (safe for the common colour-vision deficiencies): black axes, vermillion for
# the patient (the colour the dashboard uses for outcome 1), light greys for guides.
PALETTE = {"axis": "#000000", "minor": "#555555", "grid": "#E3E3E3", "text": "#000000",
           "patient": "#D55E00", "guide": "#D55E00", "patient_fill": "#FFFFFF"}

# Page presets for files: (width, largest height, font size, smallest font size) in points (1/72 in).
# A4 portrait with 20 mm margins: 170 mm text width, 247 mm text height, 8 pt text (a figure's).
# A 16:9 slide (PowerPoint's 13.333 x 7.5 in), drawn full-bleed at 14 pt, shrunk to fit its height.
PAGES = {"a4": (170 / 25.4 * 72, 247 / 25.4 * 72, 8.0, 5.5), "slide": (960.0, 540.0, 14.0, 7.0)}

FONT_FAMILY = "DejaVu Sans"
# What the browser should use: narrower fonts first (so the DejaVu measure is an upper bound),
# DejaVu Sans itself where they are missing (most Linux systems).
PLOTLY_FONT = "Arial, Helvetica, 'DejaVu Sans', sans-serif"

# Vertical metrics in em (font size): a text row (DejaVu's ascent + descent is 1.164 em; plotly
# boxes add 1 px of padding each side), tick length and the gap between tick and label.
ROW_EM, TICK_EM, LABEL_PAD_EM, AXIS_GAP_EM = 1.3, 0.45, 0.2, 0.45

# Axis kinds: the predictors' (points read off them), and the outcome scales read off the total points (a
# probability: risk or survival; a time: median survival), whose labels get a white ground under the guide.
PREDICTOR_KINDS = ("continuous", "categorical")
PROBABILITY_KINDS = ("risk", "survival")
OUTCOME_KINDS = ("total", "risk", "survival", "median")
#: Key of a Cox nomogram's median-survival-time axis.
MEDIAN_AXIS = "median_survival"


def survival_axis_key(horizon: float) -> str:
    """Key of a Cox nomogram's axis of survival probability at ``horizon`` (e.g. "surv_12"), as the
    predicted survival columns are named (:func:`core.vocabulary.horizon_column`)."""
    return horizon_column(horizon)


# ---------------------------------------------------------------------------------------------
# Text measure
# ---------------------------------------------------------------------------------------------

_FONT_LOCK = threading.Lock()  # FreeType font objects are not thread-safe (Streamlit runs pages in threads)


@lru_cache(maxsize=1)
def _measurers():
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.textpath import TextToPath

    return RendererAgg(8, 8, 72), TextToPath()


@lru_cache(maxsize=8192)
def text_width(text: str, font_size: float) -> float:
    """Width of one line of ``text`` in DejaVu Sans at ``font_size``, in the same unit (px or pt).

    Measured with FreeType through matplotlib at 72 dpi, where 1 pt = 1 px: the larger of the
    outline width (``matplotlib.textpath.TextToPath``: unhinted, what PDF, SVG and large renderings
    approach) and the width matplotlib's Agg renderer gives at 72 dpi, whose auto-hinting snaps
    glyphs to whole pixels and at small sizes can be ~10 % wider.
    """
    if not text:
        return 0.0
    from matplotlib.font_manager import FontProperties

    prop = FontProperties(family=FONT_FAMILY, size=font_size)
    with _FONT_LOCK:
        agg, outline = _measurers()
        hinted = agg.get_text_width_height_descent(text, prop, ismath=False)[0]
        unhinted = outline.get_text_width_height_descent(text, prop, ismath=False)[0]
    return float(max(hinted, unhinted))


def _wrap(text: str, font_size: float, max_width: float) -> tuple[str, ...]:
    """Greedy word wrap of ``text`` into lines no wider than ``max_width`` (a long word stays whole)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(), ""
        for word in words:
            trial = f"{line} {word}".strip()
            if line and text_width(trial, font_size) > max_width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return tuple(lines)


# ---------------------------------------------------------------------------------------------
# The layout: plain data
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickLabel:
    """One tick of an axis and its label.

    Attributes
    ----------
    value : float or str
        What the tick stands for: a predictor value or level, total points, or a probability.
    points : float
        Its position on the axis's own scale: points (predictors, Points axis) or total points
        (Total points and risk axes).
    x : float
        Position on the common 0-100 points scale (total and risk axes are mapped onto the same
        width: ``x = total * 100 / total_max``).
    x_px : float
        Horizontal position in px from the figure's left edge.
    text : str
        The label; "" when the tick is left unlabelled to make room.
    side : {"above", "below"}
    row : int
        0 next to the axis, 1 one text row further away, ...
    rotation : float
        0 or 90 degrees (counter-clockwise, read from below).
    box : tuple of float or None
        (left, top, right, bottom) of the label in px, y measured down from the figure's top; None
        without a label.
    leader : tuple of float or None
        (x0, y0, x1, y1) in px: a line from the tick's end to its label, when the label was moved
        off its tick (a crowded categorical axis, or the two ends of a very short numeric one); None
        when the label sits at its tick.
    """

    value: float | str
    points: float
    x: float
    x_px: float
    text: str
    side: str
    row: int
    rotation: float
    box: tuple[float, float, float, float] | None
    leader: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class AxisLayout:
    """One horizontal axis of the nomogram.

    Attributes
    ----------
    key : str
        "points", a predictor's name, "total_points" or "risk"; a Cox nomogram's
        :func:`survival_axis_key` per horizon and :data:`MEDIAN_AXIS` in place of "risk".
    kind : {"points", "continuous", "categorical", "total", "risk", "survival", "median"}
    title : str
        The axis title in clinical words.
    title_lines : tuple of str
        The title wrapped to the title column.
    title_box : tuple of float
        (left, top, right, bottom) of the title in px.
    y_px : float
        The axis line's height in px from the top.
    line : (float, float)
        Extent of the axis line on the 0-100 scale: the ticks' range; 0-100 for Points and Total
        points; for the risk axis, the range of rms's linear-predictor ticks ``lp_at`` (within the
        total-points axis), over which the risk scale is continuous.
    ticks : tuple of TickLabel
        In increasing order of ``x``.
    minor : tuple of float
        Unlabelled minor ticks on the 0-100 scale (Points: every 2.5; Total points: fifths of a step,
        as rms).
    placement : str
        How the labels were fitted, e.g. "one row", "every 2nd label", "below and above", "3 rows",
        "rotated".
    top_px, bottom_px : float
        Vertical extent of the axis with its labels.
    patient_x : float or None
        The patient's mark on the 0-100 scale (held inside the axis line).
    patient_value : float or None
        The patient's points (predictor), total points, risk or survival (probability), or median
        survival time.
    patient_clipped : bool
        True when the patient lies beyond the axis line (the mark sits at its end).
    unit : float
        Tick labels show ``value / unit`` (1, or 1,000, 10⁶ ... for large values, 10⁻³ ... for small
        ones), said in the title.
    """

    key: str
    kind: str
    title: str
    title_lines: tuple[str, ...]
    title_box: tuple[float, float, float, float]
    y_px: float
    line: tuple[float, float]
    ticks: tuple[TickLabel, ...]
    minor: tuple[float, ...]
    placement: str
    top_px: float
    bottom_px: float
    patient_x: float | None = None
    patient_value: float | None = None
    patient_clipped: bool = False
    unit: float = 1.0

    @property
    def labels(self) -> tuple[TickLabel, ...]:
        """The ticks that carry a label."""
        return tuple(t for t in self.ticks if t.text)


@dataclass(frozen=True)
class PatientMarks:
    """One patient read off the nomogram.

    Attributes
    ----------
    values : dict
        Variable -> the value entered.
    points : dict
        Variable -> its points (``Nomogram.points``).
    total_points : float
    risk : float
        Probability (``Nomogram.probability``); NaN on a Cox nomogram (see ``survival``).
    interval : (float, float) or None
        95 % confidence interval of the risk, when given.
    column : tuple
        (axis key, text, box) of the patient column at the right: points per axis, total, risk.
    summary_lines : tuple of str
        The statement under the risk axis, e.g. "Total points 87.5 → predicted risk 23.4 % (95 % CI ...)".
    summary_box : tuple of float
    guide : (float, float, float)
        (x_px, y_top, y_bottom): the vertical guide from the total-points axis to the last axis.
    survival : dict
        Cox nomogram: horizon -> the patient's predicted survival probability there (empty otherwise).
    median_time : float or None
        Cox nomogram with a median axis: the patient's median survival time (NaN where not reached
        within follow-up); None otherwise.
    """

    values: dict
    points: dict
    total_points: float
    risk: float
    interval: tuple[float, float] | None
    column: tuple[tuple[str, str, tuple[float, float, float, float]], ...]
    summary_lines: tuple[str, ...]
    summary_box: tuple[float, float, float, float]
    guide: tuple[float, float, float]
    survival: dict = field(default_factory=dict)
    median_time: float | None = None


@dataclass(frozen=True)
class _SurvivalSource:
    """What a Cox nomogram draws below its Total points axis (see :func:`cox_nomogram_layout`)."""

    nomogram: CoxNomogram
    horizons: tuple[float, ...]
    time_unit: str
    survivals: tuple[float, ...] | None
    median: bool
    median_times: tuple[float, ...] | None
    intervals: dict  # horizon -> (low, high) of the patient's survival


@dataclass(frozen=True)
class _Source:
    """What a layout was made from, so it can be made again at another size (:func:`relayout`)."""

    nomogram: Nomogram
    labels: dict
    patient: dict | None
    level_labels: dict
    risks: tuple[float, ...] | None
    risk_interval: tuple[float, float] | None
    risk_format: str
    title: str | None
    gap_em: float
    survival: _SurvivalSource | None = None


@dataclass(frozen=True)
class NomogramLayout:
    """Everything needed to draw a nomogram, in px (y down from the top).

    Attributes
    ----------
    width_px, height_px : float
        Figure size.
    font_size : float
        Text size (px, or pt for files).
    scale_px : (float, float)
        px of 0 and 100 on the points scale.
    total_max : float
        Total points at the right end of the Total points axis.
    axes : tuple of AxisLayout
        Points, each predictor (in the model's order), Total points, Risk (a Cox nomogram: survival at
        each horizon, then median survival time).
    title_lines : tuple of str
    title_box : tuple of float or None
    patient : PatientMarks or None
    row_px : float
        Height of one text row.
    """

    width_px: float
    height_px: float
    font_size: float
    scale_px: tuple[float, float]
    total_max: float
    axes: tuple[AxisLayout, ...]
    title_lines: tuple[str, ...]
    title_box: tuple[float, float, float, float] | None
    patient: PatientMarks | None
    row_px: float
    source: _Source = field(repr=False, compare=False)

    def px(self, x: float) -> float:
        """px of a position ``x`` on the 0-100 points scale."""
        left, right = self.scale_px
        return left + (right - left) * x / 100.0

    def axis(self, key: str) -> AxisLayout:
        """The axis ``key`` ("points", a predictor, "total_points", "risk", a survival axis ...)."""
        for axis in self.axes:
            if axis.key == key:
                return axis
        raise RadNomoError(f"no axis '{key}'; the axes are {[a.key for a in self.axes]}.")

    def text_boxes(self) -> list[tuple[str, str, tuple[float, float, float, float]]]:
        """(axis key or "title"/"patient", text, box) of every text on the picture."""
        out = []
        if self.title_box is not None:
            out.append(("title", " ".join(self.title_lines), self.title_box))
        for axis in self.axes:
            out.append((axis.key, " ".join(axis.title_lines), axis.title_box))
            out.extend((axis.key, t.text, t.box) for t in axis.labels)
        if self.patient is not None:
            out.extend(("patient", text, box) for _, text, box in self.patient.column)
            out.append(("patient", " ".join(self.patient.summary_lines), self.patient.summary_box))
        return out


# ---------------------------------------------------------------------------------------------
# Fitting labels on one axis
# ---------------------------------------------------------------------------------------------


@dataclass
class _Label:
    index: int          # position in the axis's tick list
    centre: float       # px
    width: float        # px, unrotated
    side: str = "below"
    row: int = 0
    rotated: bool = False
    anchor: float | None = None  # px of its tick when the label is moved off it (drawn with a leader line)

    def extent(self, line_height: float) -> tuple[float, float]:
        half = line_height / 2 if self.rotated else self.width / 2
        return self.centre - half, self.centre + half


def _fits(labels: Sequence[_Label], gap: float, line_height: float) -> bool:
    """True when no two labels on the same side and row come closer than ``gap`` px."""
    rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for label in labels:
        rows.setdefault((label.side, label.row), []).append(label.extent(line_height))
    for extents in rows.values():
        extents.sort()
        if any(b[0] - a[1] < gap for a, b in itertools.pairwise(extents)):
            return False
    return True


def _first_fit(labels: Sequence[_Label], gap: float, line_height: float, rows: Sequence[tuple[str, int]]) \
        -> list[_Label] | None:
    """Put each label (by left edge) on the first of ``rows`` where it clears the last one there.

    First-fit by left edge colours an interval graph with the fewest colours, so no layout with
    fewer rows exists. None when ``rows`` are not enough.
    """
    ends = {row: -math.inf for row in rows}
    placed = []
    for label in sorted(labels, key=lambda item: item.extent(line_height)[0]):
        left, right = label.extent(line_height)
        for side, row in rows:
            if left - ends[(side, row)] >= gap:
                ends[(side, row)] = right
                placed.append(replace(label, side=side, row=row))
                break
        else:
            return None
    return placed


def _nice_step(step: float) -> bool:
    if step <= 0:
        return False
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-12)
    return any(abs(mantissa - m) < 1e-6 for m in (1.0, 2.0, 2.5, 5.0, 10.0))


def _ordinal(k: int) -> str:
    return {2: "2nd", 3: "3rd"}.get(k, f"{k}th")


def _numeric_candidates(values: Sequence[float], labels: list[_Label], side: str,
                        span: tuple[float, float] | None = None):
    """Label every k-th tick (round steps first); then (below an axis) its two ends listed apart with
    leader lines; then staggered, then rotated, then the first only."""
    n = len(labels)
    diffs = np.diff(np.asarray(values, dtype=float))
    regular = len(diffs) > 0 and np.allclose(diffs, diffs[0])
    strides = list(range(1, max(n - 1, 1) + 1))
    # Every 2nd label always reads well (0, 40, 80 of 20-point ticks); beyond that, round steps first.
    nice = [k for k in strides if k <= 2 or not regular or _nice_step(abs(diffs[0]) * k)]
    other = "above" if side == "below" else "below"

    def every(k: int, **changes) -> list[_Label]:
        return [replace(label, **changes) for label in labels[::k]]

    for k in nice:
        yield ("one row" if k == 1 else f"every {_ordinal(k)} label"), every(k, side=side)
    for k in strides:
        if k not in nice:
            yield f"every {_ordinal(k)} label", every(k, side=side)
    if n >= 2 and side == "below":
        # A short axis (a weak predictor in large units): its first and last values side by side, each joined
        # to its tick, read better than one number stacked over the other.
        yield "ends with leader lines", (lambda gap, lh: _leader_row([labels[0], labels[-1]], gap, span))
    for k in strides:
        chosen = every(k)
        yield "below and above", [replace(label, side=side if i % 2 == 0 else other) for i, label in
                                  enumerate(chosen)]
    for k in strides:
        yield "rotated", every(k, side=side, rotated=True)
    yield "first label only", [replace(labels[0], side=side)]


def _spread(centres: Sequence[float], widths: Sequence[float], gap: float) -> np.ndarray:
    """Centres on one row, in the given order, at least ``gap`` apart edge to edge, moved as little as possible.

    Least squares under order constraints: with offsets o_i (the room the labels before i need),
    the centres are o_i plus the isotonic (non-decreasing) fit of ``centres - o``, found by pooling
    adjacent violators.
    """
    widths = np.asarray(widths, dtype=float)
    offsets = np.concatenate([[0.0], np.cumsum((widths[:-1] + widths[1:]) / 2 + gap)])
    blocks: list[list[float]] = []  # [mean, size]
    for value in np.asarray(centres, dtype=float) - offsets:
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, n2), (m1, n1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    fitted = np.concatenate([[mean] * int(size) for mean, size in blocks])
    return fitted + offsets


def _leader_row(labels: list[_Label], gap: float, span: tuple[float, float] | None) -> list[_Label] | None:
    """The levels listed on one row below their ticks (row 1, leaving row 0 to the leader lines), in tick
    order, spread to clear each other; None when the row is wider than ``span`` (the scale) allows."""
    ordered = sorted(labels, key=lambda label: label.centre)
    widths = [label.width for label in ordered]
    centres = _spread([label.centre for label in ordered], widths, gap + 1e-6)  # clear of rounding
    if span is not None:
        # As far out as labels centred on the scale's end ticks would reach, no further.
        low, high = span[0] - widths[0] / 2, span[1] + widths[-1] / 2
        left, right = centres[0] - widths[0] / 2, centres[-1] + widths[-1] / 2
        if right - left > high - low:
            return None
        centres = centres + max(0.0, low - left) - max(0.0, right - high)
    return [replace(label, side="below", row=1, centre=float(c), anchor=label.centre)
            for label, c in zip(ordered, centres, strict=True)]


def _categorical_candidates(labels: list[_Label], span: tuple[float, float] | None = None):
    """One row; else below / above (rms's alternation, by first fit), each label at its tick; else one row of
    labels with leader lines to their ticks; else more rows. Every level keeps its label."""
    yield "one row", [replace(label, side="below") for label in labels]
    yield "below and above", (lambda gap, lh: _first_fit(labels, gap, lh, [("below", 0), ("above", 0)]))
    yield "leader lines", (lambda gap, lh: _leader_row(labels, gap, span))
    for depth in range(2, len(labels) + 1):
        rows = [(side, r) for r in range(depth) for side in ("below", "above")]
        yield f"{2 * depth} rows", (lambda gap, lh, rows=rows: _first_fit(labels, gap, lh, rows))


def _risk_tier(p: float) -> int:
    """How much a risk tick's label is worth keeping: 50 %, then 10 / 90, 1 / 99 %, then 5 / 95, 30 / 70 %."""
    q = round(min(p, 1 - p), 6)
    if q == 0.5:
        return 0
    if q in (0.1, 0.01, 0.001):
        return 1
    if q in (0.05, 0.005, 0.3, 0.25):
        return 2
    return 3


def _risk_candidates(values: Sequence[float], labels: list[_Label]):
    """All labels on one row, else staggered; then drop the least round risks' labels and try again."""
    tiers = [_risk_tier(float(v)) for v in values]
    for keep in (3, 2, 1, 0):
        chosen = [label for label, tier in zip(labels, tiers, strict=True) if tier <= keep]
        if len(chosen) < 2 and keep < 3:
            continue
        name = "" if keep == 3 else ", fewer labels"
        yield "one row" + name, [replace(label, side="below") for label in chosen]
        yield "below and above" + name, (lambda gap, lh, chosen=chosen:
                                         _first_fit(chosen, gap, lh, [("below", 0), ("above", 0)]))
    yield from _numeric_candidates(values, labels, "below")


def _place(kind: str, values: Sequence, labels: list[_Label], gap: float, line_height: float,
           span: tuple[float, float] | None = None) -> tuple[str, list[_Label]]:
    if not labels:
        return "no labels", []
    if kind == "categorical":
        candidates = _categorical_candidates(labels, span)
    elif kind in PROBABILITY_KINDS:
        candidates = _risk_candidates(values, labels)
    else:
        candidates = _numeric_candidates(values, labels, "above" if kind == "points" else "below", span)
    for name, candidate in candidates:
        placed = candidate(gap, line_height) if callable(candidate) else candidate
        if placed is not None and _fits(placed, gap, line_height):
            return name, placed
    raise AssertionError("unreachable: the last candidate always fits")  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Building the layout
# ---------------------------------------------------------------------------------------------


def _number(value: float) -> str:
    """A tick value as R's format() writes it for round numbers (no trailing zeros), with thousands
    separators from 1,000 on ("2,500")."""
    text = f"{value:,.6g}" if abs(value) >= 1000 else f"{value:.6g}"
    return "0" if text == "-0" else text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _unit_exponent(values: Sequence[float]) -> int:
    """The power of ten (a multiple of 3) an axis's tick labels are divided by: 3 (thousands) or more when
    its largest tick reaches 10,000, -3 or less when it is below 0.01 (and not 0), else 0."""
    largest = max((abs(float(v)) for v in values), default=0.0)
    if largest >= 1e4 or 0 < largest < 1e-2:
        return 3 * math.floor(math.log10(largest) / 3 + 1e-9)
    return 0


def _unit_text(exponent: int) -> str:
    """How an axis title says its unit: "×1,000", "×1,000,000" ... or "×10⁻³"."""
    return f"×{10 ** exponent:,}" if exponent > 0 else f"×10{str(exponent).translate(_SUPERSCRIPT)}"


def _risk_text(p: float, risk_format: str, *, tick: bool) -> str:
    if risk_format == "probability":
        return f"{p:g}" if tick else f"{p:.3f}"
    return f"{p * 100:g}%" if tick else f"{p * 100:.1f} %"


def _merge_ties(entries: list[tuple[object, float, str]], separator: str) -> list[tuple[object, float, str]]:
    """Ticks at the same points become one tick "a, b" (rms joins flat runs of an axis the same way)."""
    merged: list[tuple[object, float, str]] = []
    for value, points, text in sorted(entries, key=lambda e: e[1]):
        if merged and abs(points - merged[-1][1]) < 1e-9:
            previous = merged[-1]
            merged[-1] = (previous[0], previous[1], f"{previous[2]}{separator}{text}")
        else:
            merged.append((value, points, text))
    return merged


@dataclass
class _AxisSpec:
    key: str
    kind: str
    title: str
    entries: list[tuple[object, float, str]]   # (value, points on own scale, label text), by position
    to_x: float                                  # multiply own-scale points by this for the 0-100 scale
    minor: tuple[float, ...] = ()
    patient_value: float | None = None
    patient_points: float | None = None          # own scale
    extent: tuple[float, float] | None = None    # own scale; default: the ticks' range
    unit: float = 1.0                            # tick labels show value / unit (said in the title)


def _axis_specs(nomogram: Nomogram, labels: Mapping[str, str], level_labels: Mapping[str, Mapping[str, str]],
                risks, risk_format: str, survival: _SurvivalSource | None = None) -> tuple[list[_AxisSpec], float]:
    total_axis = nomogram.total_points_axis()
    total_ticks = total_axis["points"].to_numpy(dtype=float)
    total_max = float(total_ticks.max())
    to_x = 100.0 / total_max
    scale_max = float(nomogram.max_points)
    points_ticks = np.arange(0, 11) * scale_max / 10
    step = points_ticks[1] - points_ticks[0]
    # rms draws the Points axis's minor ticks at quarter steps, the Total points axis's at fifths.
    points_minor = tuple(float(v) * 100 / scale_max for v in np.arange(0, scale_max + 1e-9, step / 4)
                         if not np.isclose(v % step, 0) and not np.isclose(v % step, step))
    total_step = total_ticks[1] - total_ticks[0] if len(total_ticks) > 1 else total_max
    total_minor = tuple(float(v) * to_x for v in np.arange(0, total_max + 1e-9, total_step / 5)
                        if not np.isclose(v % total_step, 0) and not np.isclose(v % total_step, total_step))

    def title(key: str, default: str) -> str:
        return labels.get(key) or default

    specs = [_AxisSpec("points", "points", title("points", "Points"),
                       [(float(v), float(v), _number(v)) for v in points_ticks], 100.0 / scale_max, points_minor)]
    for variable in nomogram.variables:
        axis = nomogram.axis(variable)
        if variable in nomogram.levels:
            words = level_labels.get(variable, {})
            entries = [(v, float(p), words.get(str(v)) or str(v).replace("_", " "))
                       for v, p in zip(axis["value"], axis["points"], strict=True)]
            entries = _merge_ties(entries, ", ")
            kind = "categorical"
        else:
            # Large values (a volume in mm³: 0-700,000) are labelled in thousands, said in the title, so the
            # labels stay short enough to sit at their ticks.
            exponent = _unit_exponent(axis["value"])
            unit = 10.0 ** exponent
            entries = [(float(v), float(p), _number(float(v) / unit)) for v, p in zip(axis["value"], axis["points"],
                                                                                        strict=True)]
            if len({round(p, 9) for _, p, _ in entries}) == 1:  # a flat axis: one tick "min-max", as rms
                entries = [(entries[0][0], entries[0][1], f"{entries[0][2]}–{entries[-1][2]}")]
            kind = "continuous"
            axis_title = title(variable, variable.replace("_", " ").capitalize())
            if exponent:
                axis_title = f"{axis_title} ({_unit_text(exponent)})"
            specs.append(_AxisSpec(variable, kind, axis_title, entries, 100.0 / scale_max, unit=unit))
            continue
        specs.append(_AxisSpec(variable, kind, title(variable, variable.replace("_", " ").capitalize()), entries,
                               100.0 / scale_max))
    specs.append(_AxisSpec("total_points", "total", title("total_points", "Total points"),
                           [(float(v), float(v), _number(v)) for v in total_ticks], to_x, total_minor))
    # The risk scale is continuous over the linear predictors rms draws (lp.at's range, on the
    # total-points axis), so its line spans all of that, not just the labelled risks.
    lp_points = nomogram.lp_axis()["points"].to_numpy(dtype=float)
    extent = (max(0.0, float(lp_points.min())), min(total_max, float(lp_points.max())))
    if survival is not None:
        specs.extend(_survival_specs(survival, title, risk_format, total_max, to_x, extent))
        return specs, total_max
    risk_axis = nomogram.risk_axis(risks)
    specs.append(_AxisSpec("risk", "risk", title("risk", "Predicted risk"),
                           [(float(r), float(t), _risk_text(float(r), risk_format, tick=True))
                            for t, r in zip(risk_axis["total_points"], risk_axis["risk"], strict=True)], to_x,
                           extent=extent))
    return specs, total_max


def _survival_specs(survival: _SurvivalSource, title, risk_format: str, total_max: float, to_x: float,
                    extent: tuple[float, float]) -> list[_AxisSpec]:
    """A Cox nomogram's outcome axes: survival probability at each horizon, then median survival time.

    The ticks are :meth:`CoxNomogram.survival_axis` / :meth:`~CoxNomogram.median_axis` (placed as rms
    places them), kept where they fall on the Total points axis (as the risk axis's). A survival axis
    spans rms's linear predictors (``extent``), as the risk axis; the median axis only the part of them
    where the median is reached within follow-up.
    """
    cox = survival.nomogram

    def on_axis(frame, column: str) -> list[tuple[float, float]]:
        inside = frame[(frame["total_points"] >= -1e-9) & (frame["total_points"] <= total_max + 1e-9)]
        return sorted(((float(v), float(t)) for t, v in zip(inside["total_points"], inside[column], strict=True)),
                      key=lambda pair: pair[1])

    specs = []
    for horizon in survival.horizons:
        key = survival_axis_key(horizon)
        ticks = on_axis(cox.survival_axis(horizon, survival.survivals), "survival")
        specs.append(_AxisSpec(key, "survival", title(key, f"Survival at {horizon:g} {survival.time_unit}"),
                               [(v, t, _risk_text(v, risk_format, tick=True)) for v, t in ticks], to_x,
                               extent=extent))
    reached = cox.median_range() if survival.median else None
    if reached is not None:
        ticks = on_axis(cox.median_axis(survival.median_times), "median_time")
        span = (max(extent[0], reached[0]), min(extent[1], reached[1]))
        specs.append(_AxisSpec(MEDIAN_AXIS, "median",
                               title(MEDIAN_AXIS, f"Median survival time ({survival.time_unit})"),
                               [(v, t, _number(v)) for v, t in ticks], to_x,
                               extent=span if span[0] <= span[1] else None))
    return specs


def _place_axes(specs: list[_AxisSpec], scale: tuple[float, float], font_size: float, gap: float,
                line_height: float):
    left, right = scale
    placed = []
    for spec in specs:
        xs = [points * spec.to_x for _, points, _ in spec.entries]
        labels = [_Label(i, left + (right - left) * x / 100.0, text_width(text, font_size))
                  for i, ((_, _, text), x) in enumerate(zip(spec.entries, xs, strict=True)) if text]
        values = [value for value, _, _ in spec.entries]
        name, chosen = _place(spec.kind, values, labels, gap, line_height, span=scale)
        placed.append((spec, xs, name, chosen))
    return placed


def nomogram_layout(nomogram: Nomogram, labels: Mapping[str, str] | None = None, patient: Mapping | None = None,
                    *, width_px: float, font_size: float, level_labels: Mapping[str, Mapping[str, str]] | None = None,
                    risks: Sequence[float] | None = None, risk_interval: tuple[float, float] | None = None,
                    risk_format: str = "percent", title: str | None = None, gap_em: float = 1.0) -> NomogramLayout:
    """Lay a nomogram out at a given width so that no two labels overlap.

    Parameters
    ----------
    nomogram : core.stats.modeling.Nomogram
    labels : mapping, optional
        Axis titles in clinical words: predictor -> title, and optionally "points", "total_points",
        "risk" (defaults "Points", "Total points", "Predicted risk"). A predictor without one is
        titled by its name with spaces.
    patient : mapping, optional
        Variable -> value (a number, or a level of a categorical variable) for every predictor;
        marked on each axis, with its points, total points and risk.
    width_px : float
        Figure width (CSS px for plotly; pt for files).
    font_size : float
        Text size in the same unit.
    level_labels : mapping, optional
        Categorical predictor -> {level: text}; by default a level's underscores read as spaces.
    risks : sequence of float, optional
        Probabilities for the risk axis (default: ``Nomogram.risk_axis()``'s, i.e.
        ``Nomogram.DEFAULT_RISKS``, or rms's own where too few of those fall on the axis).
    risk_interval : (float, float), optional
        The patient's 95 % confidence interval of the risk (e.g. from
        ``LogisticModel.predict_interval``), written next to the risk.
    risk_format : {"percent", "probability"}
        Risk tick labels as "20%" or as rms writes them, "0.2".
    title : str, optional
        A title over the figure.
    gap_em : float, default 1
        Least space between two labels on the same row, in widths of an "m" (R's
        ``axis(gap.axis = 1)``).

    Returns
    -------
    NomogramLayout

    Raises
    ------
    RadNomoError
        For a width too small to draw on, a bad ``risk_format``, or a patient lacking a predictor's
        value or with an unknown level.
    """
    if isinstance(nomogram, CoxNomogram):
        raise RadNomoError("a Cox model's nomogram reads survival, not a risk: lay it out with cox_nomogram_layout.")
    if risk_format not in ("percent", "probability"):
        raise RadNomoError(f"risk_format must be 'percent' or 'probability', not '{risk_format}'.")
    if font_size <= 0 or width_px <= 0:
        raise RadNomoError("width_px and font_size must be positive.")
    source = _Source(nomogram=nomogram, labels=dict(labels or {}), patient=None if patient is None else dict(patient),
                     level_labels={k: dict(v) for k, v in (level_labels or {}).items()},
                     risks=None if risks is None else tuple(float(r) for r in risks),
                     risk_interval=None if risk_interval is None else (float(risk_interval[0]),
                                                                       float(risk_interval[1])),
                     risk_format=risk_format, title=title, gap_em=float(gap_em))
    return _build(source, float(width_px), float(font_size))


def cox_nomogram_layout(nomogram: CoxNomogram, labels: Mapping[str, str] | None = None,
                        patient: Mapping | None = None, *, horizons: Sequence[float], time_unit: str,
                        width_px: float, font_size: float,
                        level_labels: Mapping[str, Mapping[str, str]] | None = None,
                        survivals: Sequence[float] | None = None, median: bool = True,
                        median_times: Sequence[float] | None = None,
                        survival_intervals: Mapping[float, tuple[float, float]] | None = None,
                        risk_format: str = "percent", title: str | None = None,
                        gap_em: float = 1.0) -> NomogramLayout:
    """Lay a Cox model's nomogram out at a given width, as :func:`nomogram_layout` (same look, same
    label fitting), with survival axes in place of the risk axis, as rms draws a ``cph`` nomogram with
    ``fun = Survival(fit)`` at each horizon (and ``Quantile(fit)`` for the median).

    Parameters
    ----------
    nomogram : core.stats.survival.nomogram.CoxNomogram
    labels : mapping, optional
        Axis titles: as :func:`nomogram_layout`'s, and for the outcome axes
        ``survival_axis_key(h)`` (default "Survival at 12 months") and :data:`MEDIAN_AXIS`
        (default "Median survival time (months)").
    patient : mapping, optional
        Variable -> value for every predictor; marked on each axis with its points, total points,
        survival at each horizon and median survival time.
    horizons : sequence of float
        Times (``time_unit``) of the survival axes, top to bottom; each at most the nomogram's last
        follow-up time.
    time_unit : str
        The follow-up's unit ("months"), written in titles and in the patient's summary.
    width_px, font_size, level_labels, risk_format, title, gap_em
        As :func:`nomogram_layout` (``risk_format`` writes the survival probabilities).
    survivals : sequence of float, optional
        Survival probabilities to tick (rms ``fun.at``); default
        :attr:`CoxNomogram.DEFAULT_SURVIVALS` (rms's pretty() where too few fall on an axis).
    median : bool, default True
        Draw the median-survival-time axis (left out anyway where the median is reached nowhere on
        the scale: too few events within follow-up).
    median_times : sequence of float, optional
        Times to tick on the median axis; default :meth:`CoxNomogram.median_axis`'s (rms's pretty()).
    survival_intervals : mapping, optional
        Horizon -> the patient's 95 % confidence interval (low, high) of survival there (e.g. from
        ``CoxModel.predict_survival``), written in the summary.

    Returns
    -------
    NomogramLayout
        Axes: Points, predictors, Total points, one ``"survival"`` axis per horizon, the
        ``"median"`` axis; the patient's marks carry ``survival`` and ``median_time``.

    Raises
    ------
    RadNomoError
        As :func:`nomogram_layout`; no horizon, or a horizon past the last follow-up time.
    """
    if risk_format not in ("percent", "probability"):
        raise RadNomoError(f"risk_format must be 'percent' or 'probability', not '{risk_format}'.")
    if font_size <= 0 or width_px <= 0:
        raise RadNomoError("width_px and font_size must be positive.")
    chosen = tuple(float(h) for h in horizons)
    if not chosen:
        raise RadNomoError("a Cox nomogram needs at least one horizon for its survival axes.")
    for horizon in chosen:
        nomogram.baseline.at(horizon)  # a horizon past the follow-up is refused here, with its reason
    intervals = {float(h): (float(low), float(high)) for h, (low, high) in (survival_intervals or {}).items()}
    survival = _SurvivalSource(nomogram=nomogram, horizons=chosen, time_unit=str(time_unit),
                               survivals=None if survivals is None else tuple(float(s) for s in survivals),
                               median=bool(median),
                               median_times=None if median_times is None else tuple(float(t) for t in median_times),
                               intervals=intervals)
    source = _Source(nomogram=nomogram.scale, labels=dict(labels or {}),
                     patient=None if patient is None else dict(patient),
                     level_labels={k: dict(v) for k, v in (level_labels or {}).items()}, risks=None,
                     risk_interval=None, risk_format=risk_format, title=title, gap_em=float(gap_em),
                     survival=survival)
    return _build(source, float(width_px), float(font_size))


def _survival_summary(survival: _SurvivalSource, values: Mapping[float, float], median_time: float | None,
                      risk_format: str) -> list[str]:
    """The patient's survival in words, as phrases a line may not break inside: "survival 62.0 % (95 % CI
    55.1–69.0 %) at 12 months,", ..., "median survival 30.1 months"."""
    parts = []
    for horizon in survival.horizons:
        text = _risk_text(values[horizon], risk_format, tick=False)
        if horizon in survival.intervals:
            low, high = survival.intervals[horizon]
            if np.isfinite(low) and np.isfinite(high):
                text += (f" (95 % CI {_risk_text(low, risk_format, tick=False).replace(' %', '')}–"
                         f"{_risk_text(high, risk_format, tick=False)})")
        parts.append(f"{text} at {horizon:g} {survival.time_unit}")
    phrases = [f"{part}," for part in parts[:-1]] + [parts[-1] + (";" if median_time is not None else "")]
    phrases[0] = f"survival {phrases[0]}"
    if median_time is not None:
        phrases.append(f"median survival {median_time:.1f} {survival.time_unit}" if np.isfinite(median_time)
                       else "median survival not reached within follow-up")
    return phrases


def _wrap_phrases(phrases: Sequence[str], font_size: float, max_width: float) -> tuple[str, ...]:
    """Phrases joined by spaces into lines no wider than ``max_width``, breaking between phrases only (a phrase
    wider than a line is word-wrapped on its own), so a number stays with its confidence interval."""
    lines: list[str] = []
    for phrase in phrases:
        trial = f"{lines[-1]} {phrase}" if lines else phrase
        if lines and text_width(trial, font_size) <= max_width:
            lines[-1] = trial
        else:
            lines.extend(_wrap(phrase, font_size, max_width))
    return tuple(lines)


def _build(source: _Source, width: float, font_size: float) -> NomogramLayout:
    nomogram = source.nomogram
    em = font_size
    row = ROW_EM * em
    line_height = 1.17 * em  # a rotated label's width across the axis (DejaVu's ascent + descent)
    gap = source.gap_em * text_width("m", font_size)
    margin = 0.5 * em
    survival = source.survival
    specs, total_max = _axis_specs(nomogram, source.labels, source.level_labels, source.risks, source.risk_format,
                                   survival)

    patient = None
    survival_values: dict[float, float] = {}
    median_time: float | None = None
    if source.patient is not None:
        total = nomogram.total_points(source.patient)  # first: it names every missing predictor
        values = {v: source.patient[v] for v in nomogram.variables}
        points = {v: nomogram.points(v, values[v]) for v in nomogram.variables}
        lp = nomogram.linear_predictor_at(total)
        # What the patient reads off each outcome axis (at the total points): a risk, or survival and its median.
        outcome: dict[str, float] = {}
        if survival is None:
            outcome["risk"] = float(1 / (1 + np.exp(-lp)))
        else:
            survival_values = {h: float(survival.nomogram.survival(h, lp)) for h in survival.horizons}
            outcome.update({survival_axis_key(h): s for h, s in survival_values.items()})
            if any(spec.key == MEDIAN_AXIS for spec in specs):
                median_time = float(survival.nomogram.median_survival(lp)[0])
                if np.isfinite(median_time):  # not reached: no mark on the axis (the column says so)
                    outcome[MEDIAN_AXIS] = median_time
        risk = outcome.get("risk", float("nan"))
        patient = (values, points, total, risk)
        for spec in specs:
            if spec.key in points:
                spec.patient_points, spec.patient_value = points[spec.key], points[spec.key]
            elif spec.key == "total_points":
                spec.patient_points, spec.patient_value = total, total
            elif spec.key in outcome:
                spec.patient_points, spec.patient_value = total, outcome[spec.key]

    # Right-hand column with the patient's numbers (only with a patient).
    column_texts = {}
    if patient is not None:
        column_texts["points"] = "Patient"
        for spec in specs:
            if spec.kind in PREDICTOR_KINDS:
                column_texts[spec.key] = f"{spec.patient_value:.1f} pts"
        column_texts["total_points"] = f"{patient[2]:.1f} pts"
        for spec in specs:
            if spec.kind in PROBABILITY_KINDS:
                column_texts[spec.key] = _risk_text(spec.patient_value, source.risk_format, tick=False)
            elif spec.kind == "median":
                column_texts[spec.key] = "not reached" if median_time is None or not np.isfinite(median_time) \
                    else f"{median_time:.1f}"
    column_width = max((text_width(t, font_size) for t in column_texts.values()), default=0.0)
    column_left = width - margin - column_width

    # Title column at the left, wrapped to at most 28 % of the width.
    natural = max(text_width(spec.title, font_size) for spec in specs)
    title_width = min(natural, 0.28 * width)
    title_lines = {spec.key: _wrap(spec.title, font_size, title_width) for spec in specs}
    title_width = max(text_width(line, font_size) for lines in title_lines.values() for line in lines)
    title_right = margin + title_width
    base_left = title_right + 1.0 * em
    base_right = (column_left - 1.0 * em) if patient is not None else width - margin
    if base_right - base_left < 8 * em:
        raise RadNomoError(f"a nomogram needs more than {width:.0f} px at font size {font_size:g}; make it wider or "
                           "the text smaller.")

    # Labels centred on ticks near either end stick out of the scale: pad the scale by as much as
    # the placed labels stick out, and repeat, since a narrower scale may place them differently.
    pad_left = pad_right = 0.0
    for _ in range(8):
        scale = (base_left + pad_left, base_right - pad_right)
        if scale[1] - scale[0] < 6 * em:
            raise RadNomoError(f"the labels of this nomogram do not fit in {width:.0f} px at font size "
                               f"{font_size:g}; make it wider or the text smaller.")
        placed = _place_axes(specs, scale, font_size, gap, line_height)
        lefts = [label.extent(line_height)[0] for *_, chosen in placed for label in chosen]
        rights = [label.extent(line_height)[1] for *_, chosen in placed for label in chosen]
        need_left = max(pad_left, scale[0] - min(lefts, default=scale[0]))
        need_right = max(pad_right, max(rights, default=scale[1]) - scale[1])
        if need_left <= pad_left + 0.01 and need_right <= pad_right + 0.01:
            break
        pad_left, pad_right = need_left, need_right
    else:  # pragma: no cover - converges in two or three rounds in practice
        pad_left = pad_right = max(text_width(text, font_size) for s in specs for *_, text in s.entries) / 2
        scale = (base_left + pad_left, base_right - pad_right)
        placed = _place_axes(specs, scale, font_size, gap, line_height)

    def px(x: float) -> float:
        return scale[0] + (scale[1] - scale[0]) * x / 100.0

    # Vertical pass: each axis's bands above / below hold its label rows; titles are centred on the line.
    y = margin
    layout_title_lines: tuple[str, ...] = ()
    layout_title_box = None
    if source.title:
        layout_title_lines = _wrap(source.title, font_size * 1.15, width - 2 * margin)
        height = len(layout_title_lines) * row * 1.15
        widest = max(text_width(line, font_size * 1.15) for line in layout_title_lines)
        layout_title_box = (margin, y, margin + widest, y + height)
        y += height + 0.3 * em

    axes = []
    for spec, xs, name, chosen in placed:
        extents = {"above": 0.0, "below": 0.0}
        for label in chosen:
            size = label.width if label.rotated else row
            extents[label.side] = max(extents[label.side], label.row * row + size)
        above = TICK_EM * em + (LABEL_PAD_EM * em + extents["above"] if extents["above"] else 0.0)
        below = TICK_EM * em + (LABEL_PAD_EM * em + extents["below"] if extents["below"] else 0.0)
        half_title = len(title_lines[spec.key]) * row / 2
        y_axis = y + AXIS_GAP_EM * em + max(above, half_title)
        bottom = y_axis + max(below, half_title)

        by_index = {label.index: label for label in chosen}
        ticks = []
        for i, ((value, points, text), x) in enumerate(zip(spec.entries, xs, strict=True)):
            label = by_index.get(i)
            if label is None:
                ticks.append(TickLabel(value, points, x, px(x), "", "below", 0, 0.0, None))
                continue
            left_edge, right_edge = label.extent(line_height)
            size = label.width if label.rotated else row
            near = TICK_EM * em + LABEL_PAD_EM * em + label.row * row
            top = y_axis + near if label.side == "below" else y_axis - near - size
            # The box's height is the font's (1.17 em), inside the row's 1.3 em.
            box_height = label.width if label.rotated else 1.17 * em
            box = (left_edge, top, right_edge, top + box_height) if label.side == "below" else \
                (left_edge, top + size - box_height, right_edge, top + size)
            # A label moved off its tick is joined to it: from the tick's end to just above the label.
            leader = None if label.anchor is None else (px(x), y_axis + TICK_EM * em, label.centre,
                                                        top - 0.1 * em)
            ticks.append(TickLabel(value, points, x, px(x), text, label.side, label.row,
                                   90.0 if label.rotated else 0.0, box, leader))
        line = (min(xs), max(xs)) if xs else (0.0, 0.0)
        if spec.kind in ("points", "total"):
            line = (0.0, 100.0)
        elif spec.extent is not None:
            line = (min([spec.extent[0] * spec.to_x, *xs]), max([spec.extent[1] * spec.to_x, *xs]))
        lines = title_lines[spec.key]
        widest = max(text_width(t, font_size) for t in lines)
        t_height = len(lines) * row
        title_box = (title_right - widest, y_axis - t_height / 2, title_right, y_axis + t_height / 2)
        patient_x = clipped = None
        if spec.patient_points is not None:
            raw = spec.patient_points * spec.to_x
            patient_x = float(min(max(raw, line[0]), line[1]))
            clipped = bool(abs(patient_x - raw) > 1e-9)
        axes.append(AxisLayout(key=spec.key, kind=spec.kind, title=spec.title, title_lines=lines,
                               title_box=title_box, y_px=y_axis, line=(float(line[0]), float(line[1])),
                               ticks=tuple(sorted(ticks, key=lambda t: t.x)), minor=spec.minor, placement=name,
                               top_px=y_axis - max(above, half_title), bottom_px=bottom, patient_x=patient_x,
                               patient_value=spec.patient_value, patient_clipped=bool(clipped), unit=spec.unit))
        y = bottom

    marks = None
    if patient is not None:
        values, points, total, risk = patient
        column = []
        for axis in axes:
            text = column_texts.get(axis.key)
            if text:
                w = text_width(text, font_size)
                column.append((axis.key, text, (width - margin - w, axis.y_px - 0.585 * em, width - margin,
                                                axis.y_px + 0.585 * em)))
        if survival is None:
            risk_words = f"predicted risk {_risk_text(risk, source.risk_format, tick=False)}"
            if source.risk_interval is not None:
                low, high = source.risk_interval
                risk_words += (f" (95 % CI {_risk_text(low, source.risk_format, tick=False).replace(' %', '')}–"
                               f"{_risk_text(high, source.risk_format, tick=False)})")
            summary_lines = _wrap(f"Total points {total:.1f} → {risk_words}", font_size, width - 2 * margin)
        else:
            phrases = _survival_summary(survival, survival_values, median_time, source.risk_format)
            phrases[0] = f"Total points {total:.1f} → {phrases[0]}"
            summary_lines = _wrap_phrases(phrases, font_size, width - 2 * margin)
        summary_width = max(text_width(line, font_size) for line in summary_lines)
        # The guide runs from the total points down to the last outcome axis (the risk axis of a logistic model).
        total_axis, risk_axis = next(axis for axis in axes if axis.kind == "total"), axes[-1]
        centre = px(total_axis.patient_x)
        left_edge = min(max(centre - summary_width / 2, margin), width - margin - summary_width)
        top = y + 0.4 * em
        summary_box = (left_edge, top, left_edge + summary_width, top + len(summary_lines) * row)
        y = summary_box[3]
        marks = PatientMarks(values=values, points=points, total_points=total, risk=risk,
                             interval=source.risk_interval, column=tuple(column), summary_lines=summary_lines,
                             summary_box=summary_box, guide=(centre, total_axis.y_px, risk_axis.y_px),
                             survival=survival_values, median_time=median_time)

    return NomogramLayout(width_px=width, height_px=y + margin, font_size=font_size, scale_px=scale,
                          total_max=total_max, axes=tuple(axes), title_lines=layout_title_lines,
                          title_box=layout_title_box, patient=marks, row_px=row, source=source)


def relayout(layout: NomogramLayout, *, width_px: float, font_size: float) -> NomogramLayout:
    """The same nomogram, patient and options laid out again at another width and font size."""
    return _build(layout.source, float(width_px), float(font_size))


def page_layout(layout: NomogramLayout, page: str) -> NomogramLayout:
    """The layout resized for a page: "a4" (170 mm wide, at most 247 mm high) or "slide" (16:9, 960 x 540 pt).

    The font starts at the page's size (8 pt on A4, 14 pt on a slide) and shrinks in half points
    until the figure fits the page's height (or reaches the page's smallest size, 5.5 / 7 pt).
    """
    if page not in PAGES:
        raise RadNomoError(f"page '{page}' is not known; possible values: {', '.join(PAGES)}.")
    width, max_height, font_size, smallest = PAGES[page]
    while True:
        fitted = relayout(layout, width_px=width, font_size=font_size)
        if fitted.height_px <= max_height or font_size - 0.5 < smallest:
            return fitted
        font_size -= 0.5


# ---------------------------------------------------------------------------------------------
# Drawings
# ---------------------------------------------------------------------------------------------


def _tick_segments(layout: NomogramLayout, axis: AxisLayout) -> tuple[list[tuple[float, float, float, float]],
                                                                      list[tuple[float, float, float, float]]]:
    """(major, minor) tick segments (x, y0, x, y1) in px; a tick points towards its label."""
    em = layout.font_size
    length = TICK_EM * em
    default_up = axis.kind == "points"
    major = []
    for tick in axis.ticks:
        up = tick.side == "above" if tick.text else default_up
        major.append((tick.x_px, axis.y_px, tick.x_px, axis.y_px - length if up else axis.y_px + length))
    minor = [(layout.px(x), axis.y_px, layout.px(x), axis.y_px + (-1 if default_up else 1) * length * 0.55)
             for x in axis.minor]
    return major, minor


def _hover(axis: AxisLayout, tick: TickLabel) -> str:
    if axis.kind == "risk":
        return f"risk {tick.value * 100:g} % at {tick.points:.1f} total points"
    if axis.kind == "survival":
        return f"{axis.title}: {tick.value * 100:g} % at {tick.points:.1f} total points"
    if axis.kind == "median":
        return f"{axis.title}: {tick.text} at {tick.points:.1f} total points"
    if axis.kind == "total":
        return f"{tick.points:g} total points"
    shown = tick.text or (tick.value if isinstance(tick.value, str) else _number(float(tick.value)))
    return f"{axis.title}: {shown} → {tick.points:.1f} points"


def nomogram_plotly(layout: NomogramLayout, *, grid: bool = True):
    """The nomogram as a plotly figure for the dashboard, drawn in the layout's own px.

    Parameters
    ----------
    layout : NomogramLayout
        Made with ``width_px`` = the width the figure gets on the page (a 1280-px screen gives
        the main column about 880 px with the sidebar open; the layout stays readable down to
        about 600).
    grid : bool, default True
        Faint vertical lines from the Points axis's ticks across the predictor axes.

    Returns
    -------
    plotly.graph_objects.Figure
        Fixed size (``layout.width_px`` x ``layout.height_px``), axes in layout px. Show it at
        that width (Streamlit: ``st.plotly_chart(figure, width="content", theme=None)``): drawn
        wider, labels only move apart; drawn narrower, they would come closer than the layout
        allows. Hovering a tick gives its exact points.
    """
    import plotly.graph_objects as go

    em = layout.font_size
    figure = go.Figure()
    font = {"family": PLOTLY_FONT, "size": em, "color": PALETTE["text"]}
    patient_font = {**font, "color": PALETTE["patient"]}
    annotations = []

    def note(x: float, y: float, text: str, xanchor: str, yanchor: str, **extra) -> None:
        annotations.append({"x": x, "y": y, "text": text, "xanchor": xanchor, "yanchor": yanchor,
                            "showarrow": False, "font": font, **extra})

    def segments(items, colour: str, width: float, dash: str = "solid") -> None:
        xs, ys = [], []
        for x0, y0, x1, y1 in items:
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        figure.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": colour, "width": width, "dash": dash},
                                    hoverinfo="skip", showlegend=False))

    points_axis, predictors = layout.axes[0], [a for a in layout.axes if a.kind in PREDICTOR_KINDS]
    if grid and predictors:
        segments([(t.x_px, points_axis.y_px, t.x_px, predictors[-1].y_px) for t in points_axis.ticks],
                 PALETTE["grid"], 1)
    lines, majors, minors, leaders = [], [], [], []
    for axis in layout.axes:
        lines.append((layout.px(axis.line[0]), axis.y_px, layout.px(axis.line[1]), axis.y_px))
        major, minor = _tick_segments(layout, axis)
        majors += major
        minors += minor
        leaders += [t.leader for t in axis.labels if t.leader is not None]
        for lineno, text in enumerate(axis.title_lines):
            note(axis.title_box[2], axis.title_box[1] + lineno * layout.row_px, text, "right", "top")
        for tick in axis.labels:
            left, top, right, bottom = tick.box
            below = tick.side == "below"
            # Total points and outcome labels get a white ground: the patient's guide passes behind them.
            note((left + right) / 2, top if below else bottom, tick.text, "center", "top" if below else "bottom",
                 textangle=-tick.rotation, borderpad=0,
                 bgcolor="white" if axis.kind in OUTCOME_KINDS else None)
        figure.add_trace(go.Scatter(x=[t.x_px for t in axis.ticks], y=[axis.y_px] * len(axis.ticks), mode="markers",
                                    marker={"size": 8, "color": "rgba(0,0,0,0)"}, showlegend=False,
                                    hovertext=[_hover(axis, t) for t in axis.ticks], hoverinfo="text"))
    segments(lines, PALETTE["axis"], 1.2)
    segments(majors, PALETTE["axis"], 1)
    segments(minors, PALETTE["minor"], 0.8)
    segments(leaders, PALETTE["minor"], 0.8)

    for lineno, text in enumerate(layout.title_lines):
        note(layout.title_box[0], layout.title_box[1] + lineno * layout.row_px * 1.15, f"<b>{text}</b>", "left", "top",
             font={**font, "size": em * 1.15})
    patient = layout.patient
    if patient is not None:
        x, y0, y1 = patient.guide
        segments([(x, y0, x, y1)], PALETTE["guide"], 2, dash="dash")
        marked = [a for a in layout.axes if a.patient_x is not None]
        hover = []
        for axis in marked:
            if axis.kind == "risk":
                hover.append(f"predicted risk {axis.patient_value:.1%}")
            elif axis.kind == "survival":
                hover.append(f"{axis.title}: {axis.patient_value:.1%}")
            elif axis.kind == "median":
                hover.append(f"{axis.title}: {axis.patient_value:.1f}")
            elif axis.kind == "total":
                hover.append(f"total {axis.patient_value:.1f} points")
            else:
                value = patient.values[axis.key]
                shown = value if isinstance(value, str) else _number(float(value) / axis.unit)
                hover.append(f"{axis.title}: {shown} → {axis.patient_value:.1f} points")
        # A diamond, not a dot, where the patient lies beyond the axis (held at its end).
        symbols = ["diamond" if a.patient_clipped else "circle" for a in marked]
        figure.add_trace(go.Scatter(
            x=[layout.px(a.patient_x) for a in marked], y=[a.y_px for a in marked], mode="markers",
            name="this patient", hovertext=hover, hoverinfo="text", showlegend=False,
            marker={"size": em * 0.95, "color": PALETTE["patient"], "symbol": symbols,
                    "line": {"color": PALETTE["patient_fill"], "width": 1.5}}))
        for key, text, box in patient.column:
            bold = layout.axis(key).kind in ("points", *PROBABILITY_KINDS)
            note(box[2], (box[1] + box[3]) / 2, f"<b>{text}</b>" if bold else text, "right", "middle",
                 font=patient_font)
        left, top, _, _ = patient.summary_box
        for lineno, text in enumerate(patient.summary_lines):
            note(left, top + lineno * layout.row_px, text, "left", "top", font=patient_font)

    figure.update_layout(width=round(layout.width_px), height=round(layout.height_px), autosize=False,
                         margin={"l": 0, "r": 0, "t": 0, "b": 0, "pad": 0}, plot_bgcolor="white",
                         paper_bgcolor="white", showlegend=False, annotations=annotations,
                         font={"family": PLOTLY_FONT, "size": em}, hovermode="closest", dragmode=False,
                         xaxis={"range": [0, layout.width_px], "visible": False, "fixedrange": True},
                         yaxis={"range": [layout.height_px, 0], "visible": False, "fixedrange": True})
    return figure


def nomogram_matplotlib(layout: NomogramLayout, *, grid: bool = True):
    """The nomogram as a matplotlib Figure, 1 layout px = 1 pt (so ``width_px / 72`` inches wide).

    Every text artist has a gid: "tick-<axis index>-<tick index>" for tick labels, "title-<axis
    index>", "patient-..." and "figure-title", so tests and SVG readers can find them.

    Parameters
    ----------
    layout : NomogramLayout
    grid : bool, default True
        Faint vertical lines from the Points axis's ticks across the predictor axes.

    Returns
    -------
    matplotlib.figure.Figure
        With an Agg canvas attached (no pyplot state: safe in threads).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    width, height, em = layout.width_px, layout.height_px, layout.font_size
    figure = Figure(figsize=(width / 72, height / 72), dpi=72)
    FigureCanvasAgg(figure)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    text_style = {"fontsize": em, "fontfamily": FONT_FAMILY, "color": PALETTE["text"]}
    lw = max(0.5, em / 12)

    def collection(items, colour, linewidth, **kwargs):
        if items:
            ax.add_collection(LineCollection([[(x0, y0), (x1, y1)] for x0, y0, x1, y1 in items], colors=colour,
                                             linewidths=linewidth, **kwargs))

    points_axis, predictors = layout.axes[0], [a for a in layout.axes if a.kind in PREDICTOR_KINDS]
    if grid and predictors:
        collection([(t.x_px, points_axis.y_px, t.x_px, predictors[-1].y_px) for t in points_axis.ticks],
                   PALETTE["grid"], lw * 0.8, zorder=0)
    for index, axis in enumerate(layout.axes):
        major, minor = _tick_segments(layout, axis)
        collection([(layout.px(axis.line[0]), axis.y_px, layout.px(axis.line[1]), axis.y_px)], PALETTE["axis"],
                   lw * 1.2, zorder=2)
        collection(major, PALETTE["axis"], lw, zorder=2)
        collection(minor, PALETTE["minor"], lw * 0.8, zorder=2)
        collection([t.leader for t in axis.labels if t.leader is not None], PALETTE["minor"], lw * 0.8, zorder=2)
        for lineno, text in enumerate(axis.title_lines):
            ax.text(axis.title_box[2], axis.title_box[1] + lineno * layout.row_px, text, ha="right", va="top",
                    gid=f"title-{index}-{lineno}", **text_style)
        for tick_index, tick in enumerate(axis.ticks):
            if not tick.text:
                continue
            left, top, right, bottom = tick.box
            # Total points and outcome labels get a white ground: the patient's guide passes behind them.
            ground = {"bbox": {"boxstyle": "square,pad=0.05", "facecolor": "white", "edgecolor": "none"},
                      "zorder": 5} if axis.kind in OUTCOME_KINDS else {}
            ax.text((left + right) / 2, top if tick.side == "below" else bottom, tick.text, ha="center",
                    va="top" if tick.side == "below" else "bottom", rotation=tick.rotation,
                    gid=f"tick-{index}-{tick_index}", **ground, **text_style)
    if layout.title_box is not None:
        for lineno, text in enumerate(layout.title_lines):
            ax.text(layout.title_box[0], layout.title_box[1] + lineno * layout.row_px * 1.15, text, ha="left",
                    va="top", fontweight="bold", gid=f"figure-title-{lineno}",
                    **{**text_style, "fontsize": em * 1.15})
    patient = layout.patient
    if patient is not None:
        x, y0, y1 = patient.guide
        collection([(x, y0, x, y1)], PALETTE["guide"], lw * 1.6, linestyles="dashed", zorder=3)
        for axis in layout.axes:
            if axis.patient_x is not None:
                ax.plot([layout.px(axis.patient_x)], [axis.y_px], marker="D" if axis.patient_clipped else "o",
                        markersize=em * 0.7, color=PALETTE["patient"], markeredgecolor=PALETTE["patient_fill"],
                        markeredgewidth=lw, zorder=4)
        for lineno, (key, text, box) in enumerate(patient.column):
            ax.text(box[2], (box[1] + box[3]) / 2, text, ha="right", va="center", gid=f"patient-column-{lineno}",
                    **{**text_style, "color": PALETTE["patient"],
                       "fontweight": "bold" if layout.axis(key).kind in ("points", *PROBABILITY_KINDS)
                       else "normal"})
        left, top, _, _ = patient.summary_box
        for lineno, text in enumerate(patient.summary_lines):
            ax.text(left, top + lineno * layout.row_px, text, ha="left", va="top", gid=f"patient-summary-{lineno}",
                    **{**text_style, "color": PALETTE["patient"]})
    return figure


def nomogram_file(layout: NomogramLayout, fmt: str, *, page: str | None = None, dpi: int = 300) -> bytes:
    """The nomogram as a file: PNG (``dpi``, default 300), SVG or PDF.

    Parameters
    ----------
    layout : NomogramLayout
    fmt : {"png", "svg", "pdf"}
    page : {None, "a4", "slide"}
        None: the layout's own size (px read as pt). "a4": laid out again 170 mm wide (A4 text
        width), font shrunk until at most 247 mm high. "slide": laid out again on a 16:9 slide
        (13.33 x 7.5 in), drawn centred on the full slide.
    dpi : int, default 300
        PNG resolution (also written in the PNG's pHYs chunk).

    Returns
    -------
    bytes

    Raises
    ------
    RadNomoError
        For an unknown format or page.
    """
    fmt = fmt.lower()
    if fmt not in ("png", "svg", "pdf"):
        raise RadNomoError(f"format '{fmt}' is not supported; possible values: png, svg, pdf.")
    if page is not None:
        layout = page_layout(layout, page)
    figure = nomogram_matplotlib(layout)
    if page == "slide":
        # A full 16:9 slide: keep the drawing's scale and centre it vertically.
        slide_height = PAGES["slide"][1]
        if layout.height_px < slide_height:
            figure.set_size_inches(layout.width_px / 72, slide_height / 72)
            offset = (slide_height - layout.height_px) / 2
            figure.axes[0].set_position((0, offset / slide_height, 1, layout.height_px / slide_height))
    buffer = io.BytesIO()
    metadata = {"png": {"Software": "RadNomo"}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    figure.savefig(buffer, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    return buffer.getvalue()

