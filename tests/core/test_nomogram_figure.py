"""The nomogram's axes (known answers from R rms 6.5) and its pictures: no two labels overlap.

Nomograms are fitted on a synthetic cohort shaped like the sample study (the generator's clinical
table, n = 600, with a continuous DL-radiomics score), with four predictor sets: the sample study's
clinical variables plus the score, two continuous predictors only, a 5-level categorical, and a
volume in mm³ (0-700,000) with a 3-level grade unrelated to the outcome (a short axis). Label
boxes are measured three ways: by matplotlib's renderer, from the glyph outlines in the SVG file,
and (where Chromium is installed) in a real browser drawing the plotly figure.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.figures.nomogram import (
    PAGES,
    NomogramLayout,
    nomogram_file,
    nomogram_layout,
    nomogram_matplotlib,
    nomogram_plotly,
    page_layout,
    relayout,
    text_width,
)
from core.stats.modeling import Nomogram, fit_model, r_pretty

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

CONTINUOUS = ("age", "tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml")  # SAMPLE_SPEC's, and:
CATEGORICAL = ("sex", "location", "ct_stage", "cn_stage", "differentiation", "lauren", "her2")
AGE_BANDS = ([0, 44, 54, 64, 74, 200], ["18-44", "45-54", "55-64", "65-74", "75-99"])
LABELS = {"age": "Age (years)", "sex": "Sex", "location": "Tumour location", "tumour_thickness_mm":
          "Tumour thickness (mm)", "ct_stage": "Clinical T stage", "cn_stage": "Clinical N stage",
          "differentiation": "Differentiation", "lauren": "Lauren type", "her2": "HER2 status",
          "cea_ng_ml": "CEA (ng/mL)", "ca19_9_u_ml": "CA19-9 (U/mL)", "dl_radiomics_score": "DL-radiomics score",
          "age_band": "Age band (years)", "risk": "Risk of liver metastasis", "volume_mm3": "Volume (mm³)",
          "grade": "Grade"}
PREDICTOR_SETS = {
    "sample_like": {"continuous": [*CONTINUOUS, "dl_radiomics_score"], "categorical": list(CATEGORICAL)},
    "two_continuous": {"continuous": ["tumour_thickness_mm", "dl_radiomics_score"]},
    "five_level": {"continuous": ["cea_ng_ml"], "categorical": ["age_band", "her2"]},
    "volume_grade": {"continuous": ["tumour_thickness_mm", "dl_radiomics_score", "volume_mm3"],
                     "categorical": ["grade", "sex"]},
}
# (width, font size) of the dashboard (1920, 1280 and 1024-px screens), and the file pages.
SIZES = [(1280, 14), (880, 13), (620, 12)]


def _age_band(age: pd.Series) -> pd.Series:
    return pd.cut(age, AGE_BANDS[0], labels=AGE_BANDS[1]).astype(str)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    from core.imaging.synthetic import generate_clinical

    table = generate_clinical(n=600, seed=20250719).clinical
    rng = np.random.default_rng(19)
    # A signature score on the log-odds scale: higher with the outcome, as the fused model's input.
    table = table.assign(dl_radiomics_score=rng.normal(-0.8, 1.0, len(table)) + 0.9 * table["lm"],
                         age_band=_age_band(table["age"]))
    # A tumour volume in mm³ (ticks up to 700,000) and a grade drawn independently of the outcome, whose
    # three levels end up a few points apart: the axes that printed "700000" over "0" and lost their labels.
    return table.assign(volume_mm3=rng.uniform(0, 700_000, len(table)),
                        grade=rng.choice(["G1", "G2", "G3"], len(table)))


@pytest.fixture(scope="module")
def nomograms(cohort) -> dict[str, Nomogram]:
    train = cohort.iloc[:420]  # the nomogram is scaled on its training rows only
    return {name: Nomogram(fit_model(name, train, "lm", **spec), train) for name, spec in PREDICTOR_SETS.items()}


@pytest.fixture(scope="module")
def patient(cohort) -> dict:
    return cohort.iloc[500].to_dict()  # a test-set patient


def _layout(nomogram: Nomogram, patient=None, width=880, font=13, **kwargs) -> NomogramLayout:
    return nomogram_layout(nomogram, LABELS, patient, width_px=width, font_size=font, **kwargs)


def _overlap(a, b, tolerance=0.01) -> bool:
    """Boxes (left, top, right, bottom) share an area (touching edges do not count)."""
    return (min(a[2], b[2]) - max(a[0], b[0]) > tolerance) and (min(a[3], b[3]) - max(a[1], b[1]) > tolerance)


def _overlapping_pairs(boxes: list[tuple[str, tuple]]) -> list[tuple[str, str]]:
    return [(boxes[i][0], boxes[j][0]) for i in range(len(boxes)) for j in range(i + 1, len(boxes))
            if _overlap(boxes[i][1], boxes[j][1])]


# ---------------------------------------------------------------------------------------------
# The axes: rms's total-points and risk axes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_total_points_axis_spans_pretty_of_the_training_totals(nomograms, cohort, name):
    nomogram = nomograms[name]
    train = cohort.iloc[:420]
    # Independently of the class: each training patient's total, summed variable by variable.
    totals = np.array([nomogram.total_points(row) for _, row in train.iterrows()])
    lp = nomogram.model.linear_predictor(train).to_numpy()
    np.testing.assert_allclose([nomogram.linear_predictor_at(t) for t in totals], lp, atol=1e-9)
    lp_at = r_pretty(lp.min(), lp.max(), 10)  # rms: lp.at <- pretty(range(fit$linear.predictors), nint)
    lp_zero = nomogram.linear_predictor_at(0.0)
    sum_max = max(100.0, nomogram.points_per_unit_lp * (lp_at.max() - lp_zero))
    expected = r_pretty(0.0, sum_max, 10)  # rms: pretty(c(0, sum.max), nint)
    ticks = nomogram.total_points_axis()["points"].to_numpy()
    np.testing.assert_allclose(ticks, expected, atol=1e-9)
    assert ticks.max() >= totals.max() and ticks.min() == 0
    largest_possible = sum(nomogram.axis(v)["points"].max() for v in nomogram.variables)
    if name == "sample_like":  # the old axis ran to the (never reached) sum of the maxima
        assert ticks.max() < largest_possible
    np.testing.assert_allclose(nomogram.training_total_points, totals, atol=1e-9)


def test_total_and_risk_axes_equal_rms_nomogram():
    """Known answers: rms::nomogram(fit, fun=plogis, fun.at=...) on the sample study.

    From tests/reference/rms_nomogram.R (R 4.2.2, rms 6.5.0): model A as test_modeling's, model B
    with a 5-level categorical (age band) and the other clinical factors.
    """
    from core.workflows.sample import load_sample_cohort

    data = load_sample_cohort()
    data = data.assign(age_band=_age_band(data["age"]))
    fits = {"A": fit_model("A", data, "lm", continuous=["tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"],
                           categorical=["sex", "her2", "cn_stage"]),
            "B": fit_model("B", data, "lm", categorical=["age_band", "location", "ct_stage", "differentiation",
                                                         "lauren", "her2"])}
    totals = pd.read_csv(REFERENCE / "rms_nomogram_total.csv")
    risks = pd.read_csv(REFERENCE / "rms_nomogram_risk.csv")
    for name, model in fits.items():
        nomogram = Nomogram(model, data)
        expected = totals[totals["model"] == name]
        assert nomogram.points_per_unit_lp == pytest.approx(expected["sc"].iloc[0], rel=1e-6)
        assert nomogram.linear_predictor_at(0.0) == pytest.approx(expected["intercept"].iloc[0], abs=1e-6)
        r_total = expected[expected["axis"] == "total_points"]
        np.testing.assert_allclose(nomogram.total_points_axis()["points"], r_total["points"], atol=1e-9)
        r_lp = expected[expected["axis"] == "lp"]
        np.testing.assert_allclose(nomogram.lp_axis()["linear_predictor"], r_lp["value"], atol=1e-9)
        np.testing.assert_allclose(nomogram.lp_axis()["points"], r_lp["points"], atol=1e-6)
        for fun_at in ("radnomo", "rms_default"):
            r_risk = risks[(risks["model"] == name) & (risks["fun_at"] == fun_at)]
            asked = (Nomogram.DEFAULT_RISKS if fun_at == "radnomo" else
                     [p for p in r_pretty(*(1 / (1 + np.exp(-nomogram.lp_at[[0, -1]]))), 10) if 0 < p < 1])
            ours = nomogram.risk_axis(asked)
            np.testing.assert_allclose(ours["risk"], r_risk["risk"], atol=1e-12)
            # rms inverts plogis by linear interpolation on 1000 points: agreement to 1e-3 points.
            np.testing.assert_allclose(ours["total_points"], r_risk["points"], atol=2e-3)
    # Model B's 5-level categorical and the other factors: points per level as rms.
    nomogram_b = Nomogram(fits["B"], data)
    for _, row in pd.read_csv(REFERENCE / "rms_nomogram_axes_b.csv").iterrows():
        assert nomogram_b.points(row["predictor"], row["value"]) == pytest.approx(row["points"], abs=1e-6)


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_risk_axis_is_round_probabilities_increasing_with_points(nomograms, name):
    nomogram = nomograms[name]
    axis = nomogram.risk_axis()
    assert len(axis) >= 3
    assert set(axis["risk"]) <= set(Nomogram.DEFAULT_RISKS)
    for risk in axis["risk"]:  # round: a whole percentage, or 0.5 %-steps near the ends
        assert (risk * 100) == pytest.approx(round(risk * 100)), risk
    assert (np.diff(axis["total_points"]) > 0).all() and (np.diff(axis["risk"]) > 0).all()
    for total, risk in zip(axis["total_points"], axis["risk"], strict=True):
        assert 1 / (1 + math.exp(-nomogram.linear_predictor_at(total))) == pytest.approx(risk, rel=1e-9)
    total_max = nomogram.total_points_axis()["points"].max()
    assert axis["total_points"].between(0, total_max).all()
    lp = [nomogram.linear_predictor_at(t) for t in axis["total_points"]]
    assert min(lp) >= nomogram.lp_at.min() - 1e-9 and max(lp) <= nomogram.lp_at.max() + 1e-9
    # The drawn axis: labels read as percentages, left to right.
    risk_axis = _layout(nomogram).axis("risk")
    assert [t.value for t in risk_axis.ticks] == list(axis["risk"])
    assert all(re.fullmatch(r"\d+%", t.text) for t in risk_axis.labels)
    assert np.all(np.diff([t.x for t in risk_axis.ticks]) > 0)
    with pytest.raises(RadNomoError, match="between 0 and 1"):
        nomogram.risk_axis([0.0, 0.5])


def test_weak_model_risk_axis_falls_back_to_rms_default(cohort):
    """Training risks within 20-35 %: too few of the default ticks, so rms's pretty(plogis(range(lp.at)))."""
    train = cohort.iloc[:420]
    nomogram = Nomogram(fit_model("sex", train, "lm", categorical=["sex"]), train)
    assert len(nomogram.risk_axis(Nomogram.DEFAULT_RISKS)) < 3
    ends = 1 / (1 + np.exp(-nomogram.lp_at[[0, -1]]))
    expected = nomogram.risk_axis([p for p in r_pretty(ends[0], ends[1], 10) if 0 < p < 1])
    pd.testing.assert_frame_equal(nomogram.risk_axis(), expected)
    assert len(expected) >= 3
    np.testing.assert_allclose(nomogram.total_points_axis()["points"], np.arange(0, 101, 10))  # one variable
    labels = [t.text for t in _layout(nomogram, width=620, font=12).axis("risk").labels]
    assert len(labels) >= 2 and set(labels) <= {f"{r * 100:g}%" for r in expected["risk"]}


# ---------------------------------------------------------------------------------------------
# No overlapping labels: matplotlib renderer, SVG glyphs, the layout's own boxes, a browser
# ---------------------------------------------------------------------------------------------


def _renderer_boxes(figure, dpi: float = 72) -> list[tuple[str, tuple]]:
    """Each text's box as the renderer draws it at ``dpi``, in pt from the top left."""
    figure.set_dpi(dpi)
    renderer = figure.canvas.get_renderer()
    height, scale = figure.bbox.height, 72 / dpi
    out = []
    for text in figure.axes[0].texts:
        extent = text.get_window_extent(renderer)
        out.append((text.get_gid(), tuple(v * scale for v in (extent.x0, height - extent.y1, extent.x1,
                                                              height - extent.y0))))
    return out


@pytest.mark.parametrize("size", [*SIZES, "a4", "slide"])
@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_matplotlib_tick_labels_never_overlap(nomograms, patient, name, size):
    layout = _layout(nomograms[name], patient, risk_interval=(0.12, 0.31), title="Nomogram")
    layout = page_layout(layout, size) if isinstance(size, str) else relayout(layout, width_px=size[0],
                                                                               font_size=size[1])
    figure = nomogram_matplotlib(layout)
    for dpi in (72, 300):  # on screen (hinted to whole pixels) and as the PNG is written
        boxes = _renderer_boxes(figure, dpi)
        ticks = [(gid, box) for gid, box in boxes if gid.startswith("tick-")]
        assert len(ticks) == sum(len(axis.labels) for axis in layout.axes)
        by_axis: dict[str, list] = {}
        for gid, box in ticks:
            by_axis.setdefault(gid.split("-")[1], []).append((gid, box))
        for axis_ticks in by_axis.values():
            assert _overlapping_pairs(axis_ticks) == [], dpi
        # Stronger: no text on the picture overlaps another (titles, labels, the patient's numbers).
        assert _overlapping_pairs(boxes) == [], dpi
        for gid, (left, top, right, bottom) in boxes:  # and all of it lies on the figure
            assert left >= -0.5 and top >= -0.5, gid
            assert right <= layout.width_px + 0.5 and bottom <= layout.height_px + 0.5, gid


def _affine(transform: str | None) -> np.ndarray:
    """An SVG transform attribute as a 3x3 matrix."""
    matrix = np.eye(3)
    for kind, raw in re.findall(r"(\w+)\(([^)]*)\)", transform or ""):
        a = [float(v) for v in re.split(r"[ ,]+", raw.strip())]
        if kind == "translate":
            step = np.array([[1, 0, a[0]], [0, 1, a[1] if len(a) > 1 else 0], [0, 0, 1]])
        elif kind == "scale":
            step = np.diag([a[0], a[1] if len(a) > 1 else a[0], 1])
        elif kind == "rotate":
            c, s = math.cos(math.radians(a[0])), math.sin(math.radians(a[0]))
            step = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        elif kind == "matrix":
            step = np.array([[a[0], a[2], a[4]], [a[1], a[3], a[5]], [0, 0, 1]])
        else:  # pragma: no cover
            raise AssertionError(kind)
        matrix = matrix @ step
    return matrix


def _svg_text_boxes(svg: bytes) -> dict[str, tuple]:
    """Box of each text group (id "tick-...", ...) from its glyph outlines (matplotlib writes text as paths)."""
    ns = {"svg": "http://www.w3.org/2000/svg"}
    xlink = "{http://www.w3.org/1999/xlink}href"
    root = ET.fromstring(svg)
    glyphs = {}
    for path in root.iter("{http://www.w3.org/2000/svg}path"):
        if path.get("id") and path.get("d"):
            numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", path.get("d"))]
            points = np.array(numbers).reshape(-1, 2)  # control points included: a bound of the outline
            corners = np.c_[points, np.ones(len(points))] @ _affine(path.get("transform")).T
            glyphs[path.get("id")] = (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(),
                                      corners[:, 1].max())
    boxes = {}

    def walk(element, matrix, group):
        for child in element:
            tag = child.tag.split("}")[1]
            here = matrix @ _affine(child.get("transform"))
            if tag == "g":
                walk(child, here, group or child.get("id") if (child.get("id") or "").startswith(
                    ("tick-", "title-", "patient-", "figure-title")) else group)
            elif tag == "use" and group:
                glyph = glyphs.get(child.get(xlink)[1:])
                if glyph is None:
                    continue  # a space
                here = here @ _affine(f"translate({child.get('x', 0)} {child.get('y', 0)})")
                corners = np.array([[glyph[0], glyph[1], 1], [glyph[2], glyph[1], 1], [glyph[0], glyph[3], 1],
                                    [glyph[2], glyph[3], 1]]) @ here.T
                box = boxes.get(group)
                new = (corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max())
                boxes[group] = new if box is None else (min(box[0], new[0]), min(box[1], new[1]),
                                                        max(box[2], new[2]), max(box[3], new[3]))

    walk(root, np.eye(3), None)
    assert root.find(".//svg:use", ns) is not None
    return boxes


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_svg_labels_and_layout_boxes_never_overlap(nomograms, patient, name):
    layout = _layout(nomograms[name], patient, width=620, font=12)
    boxes = _svg_text_boxes(nomogram_file(layout, "svg"))
    ticks = {gid: box for gid, box in boxes.items() if gid.startswith("tick-")}
    assert len(ticks) == sum(len(axis.labels) for axis in layout.axes)
    by_axis: dict[str, list] = {}
    for gid, box in ticks.items():
        by_axis.setdefault(gid.split("-")[1], []).append((gid, box))
    for axis_ticks in by_axis.values():
        assert _overlapping_pairs(axis_ticks) == []
    assert _overlapping_pairs(list(boxes.items())) == []
    # The glyphs sit inside the boxes the layout reserved for them (to within a point).
    for gid, box in ticks.items():
        _, axis_index, tick_index = gid.split("-")
        reserved = layout.axes[int(axis_index)].ticks[int(tick_index)].box
        assert box[0] >= reserved[0] - 1 and box[2] <= reserved[2] + 1, (gid, box, reserved)
        assert box[1] >= reserved[1] - 1 and box[3] <= reserved[3] + 1, (gid, box, reserved)
    # The layout's own boxes: apart by at least the gap on each row, and never overlapping anything.
    gap = text_width("m", layout.font_size)
    for axis in layout.axes:
        rows: dict = {}
        for tick in axis.labels:
            rows.setdefault((tick.side, tick.row), []).append(tick.box)
        for row in rows.values():
            row.sort()
            assert all(b[0] - a[2] >= gap - 1e-6 for a, b in itertools.pairwise(row)), axis.key
    assert _overlapping_pairs([(k, box) for k, _, box in layout.text_boxes()]) == []


def test_close_categorical_levels_are_staggered_and_every_level_is_labelled(nomograms):
    nomogram = nomograms["sample_like"]
    layout = _layout(nomogram, width=620, font=12)
    for variable in nomogram.levels:
        axis = layout.axis(variable)
        assert len(axis.labels) == len(axis.ticks)  # levels are never thinned out
        ordered = sorted(axis.labels, key=lambda t: t.x)
        for a, b in itertools.pairwise(ordered):
            centre_gap = b.x_px - a.x_px
            if centre_gap < (text_width(a.text, 12) + text_width(b.text, 12)) / 2:  # would collide on one row
                # ... so on different rows, or listed apart on one row with leader lines to their ticks.
                assert (a.side, a.row) != (b.side, b.row) or (a.leader and b.leader and a.box[2] < b.box[0]), \
                    (variable, a.text, b.text)
    assert any(layout.axis(v).placement != "one row" for v in nomogram.levels)
    for variable in nomogram.levels:
        _assert_labels_at_their_ticks(layout, layout.axis(variable))
    # Numeric axes thin out labels but keep every tick, starting from the first.
    age = layout.axis("age")
    assert len(age.ticks) == len(nomogram.axis("age")) and age.ticks[0].text
    assert len(age.labels) < len(age.ticks)


def _assert_labels_at_their_ticks(layout: NomogramLayout, axis) -> None:
    """Every label of an axis can be matched to its tick: centred on it (on either side), or
    joined to it by a leader line from the tick's end to the label, the labels in the ticks' order."""
    led = [t for t in axis.labels if t.leader is not None]
    for tick in axis.labels:
        centre = (tick.box[0] + tick.box[2]) / 2
        if tick.leader is None:
            assert centre == pytest.approx(tick.x_px, abs=0.5), (axis.key, tick.text)
            assert tick.row == 0, (axis.key, tick.text)  # next to the line, not rows away
        else:
            x0, y0, x1, y1 = tick.leader
            assert x0 == pytest.approx(tick.x_px) and y0 > axis.y_px  # from the tick's end ...
            assert x1 == pytest.approx(centre) and y1 <= tick.box[1] + 1e-9  # ... to the top of its label
    if led:  # leader lines never cross: the labels keep the order of their ticks
        assert [t.text for t in sorted(led, key=lambda t: t.x_px)] == \
            [t.text for t in sorted(led, key=lambda t: t.box[0])]


@pytest.mark.parametrize("size", [(620, 12), (880, 13), "a4"])
def test_large_values_read_in_thousands_and_short_category_labels_sit_at_their_ticks(nomograms, patient, size):
    """A volume axis (0-700,000 mm³) and a 3-level grade a few points long, on screen and in files."""
    nomogram = nomograms["volume_grade"]
    layout = _layout(nomogram, patient)
    layout = page_layout(layout, size) if isinstance(size, str) else relayout(layout, width_px=size[0],
                                                                               font_size=size[1])
    volume = layout.axis("volume_mm3")
    assert volume.title == "Volume (mm³) (×1,000)" and volume.unit == 1000
    assert max(t.value for t in volume.ticks) >= 500_000
    assert len(volume.labels) >= 2  # at least its start and one more, never one big number over another
    for tick in volume.labels:
        assert float(tick.text.replace(",", "")) * 1000 == pytest.approx(tick.value)
        assert len(tick.text) <= 3 and tick.side == "below"
    _assert_labels_at_their_ticks(layout, volume)  # at their ticks, or listed apart with leader lines
    grade = layout.axis("grade")
    assert len(grade.labels) == 3 and grade.line[1] - grade.line[0] < 10  # a short axis: a few points
    _assert_labels_at_their_ticks(layout, grade)
    if size == (620, 12):
        assert grade.placement == "leader lines"
    # The leader lines are drawn, on screen (plotly) and in the files (matplotlib).
    leaders = [t.leader for axis in layout.axes for t in axis.labels if t.leader is not None]
    figure = nomogram_matplotlib(layout)
    drawn = [tuple(np.asarray(segment).ravel()) for collection in figure.axes[0].collections
             for segment in collection.get_segments()]
    for leader in leaders:
        assert any(np.allclose(segment, leader) for segment in drawn), leader
    plotted = [(x, y) for trace in nomogram_plotly(layout).data if trace.mode == "lines"
               for x, y in zip(trace.x, trace.y, strict=True) if x is not None]
    for x0, y0, x1, y1 in leaders:
        assert any(np.allclose(p, (x0, y0)) for p in plotted) and any(np.allclose(p, (x1, y1)) for p in plotted)
    # No text overlaps another as the renderer draws it.
    assert _overlapping_pairs(_renderer_boxes(figure, 300)) == []


def test_tick_numbers_get_separators_or_units():
    from core.figures.nomogram import _number, _unit_exponent, _unit_text

    assert [_number(v) for v in (0.0, 2500.0, -1500.0, 12.5, 999.0)] == ["0", "2,500", "-1,500", "12.5", "999"]
    assert [_unit_exponent(v) for v in ([0, 9000], [0, 10_000], [0, 700_000], [0, 2e6], [0, 0.004], [0, 0.5],
                                        [0, 0])] == [0, 3, 3, 6, -3, 0, 0]
    assert [_unit_text(e) for e in (3, 6, -3)] == ["×1,000", "×1,000,000", "×10⁻³"]


def test_crowded_labels_are_spread_by_least_squares_in_tick_order():
    from core.figures.nomogram import _spread

    # Three 10-px labels wanted at 0, 1, 2 with a 2-px gap: 12 px between centres, centred on the middle one.
    np.testing.assert_allclose(_spread([0, 1, 2], [10, 10, 10], 2), [-11, 1, 13])
    # Labels already apart stay where they are; only the crowded pair moves, symmetrically.
    np.testing.assert_allclose(_spread([0, 100, 101], [10, 10, 10], 2), [0, 94.5, 106.5])


@pytest.mark.slow
@pytest.mark.e2e
def test_browser_draws_the_plotly_figure_without_overlaps(nomograms, patient, tmp_path):
    """Chromium draws the plotly figures (with its own fonts): no two texts overlap."""
    playwright = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine")
    import plotly.io
    from plotly.offline import get_plotlyjs

    (tmp_path / "plotly.min.js").write_text(get_plotlyjs())
    (tmp_path / "page.html").write_text('<html><body style="margin:0"><div id="figure"></div>'
                                        '<script src="plotly.min.js"></script></body></html>')
    draw = "async (spec) => { await Plotly.newPlot('figure', spec.data, spec.layout); }"
    measure = """() => Array.from(document.querySelectorAll('g.annotation text')).map(t => {
        const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom]; })"""
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto((tmp_path / "page.html").as_uri())
        for name in PREDICTOR_SETS:
            for width, font in SIZES:
                layout = _layout(nomograms[name], patient, width=width, font=font, risk_interval=(0.1, 0.3))
                page.evaluate(draw, json.loads(plotly.io.to_json(nomogram_plotly(layout))))
                boxes = [(text, tuple(box)) for text, *box in page.evaluate(measure)]
                lines = sum(len(axis.title_lines) - 1 for axis in layout.axes)
                assert len(boxes) == len(layout.text_boxes()) + lines, name
                assert _overlapping_pairs(boxes) == [], (name, width)
        browser.close()


# ---------------------------------------------------------------------------------------------
# The patient, the pictures and the files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PREDICTOR_SETS)
def test_patient_marks_sit_at_their_points_total_and_risk(nomograms, patient, name):
    nomogram = nomograms[name]
    layout = _layout(nomogram, patient, risk_interval=(0.12, 0.31))
    marks = layout.patient
    total = nomogram.total_points(patient)
    assert marks.total_points == pytest.approx(total)
    assert marks.risk == pytest.approx(nomogram.probability(patient))
    for variable in nomogram.variables:
        axis = layout.axis(variable)
        points = nomogram.points(variable, patient[variable])
        assert marks.points[variable] == pytest.approx(points)
        assert axis.patient_value == pytest.approx(points)
        if not axis.patient_clipped:
            assert axis.patient_x == pytest.approx(points * 100 / nomogram.max_points)
    total_x = total * 100 / layout.total_max
    assert layout.axis("total_points").patient_x == pytest.approx(total_x)
    assert marks.guide[0] == pytest.approx(layout.px(total_x))
    risk_axis = layout.axis("risk")
    assert risk_axis.patient_value == pytest.approx(nomogram.probability(patient))
    # The risk reads off the picture: in the patient column and in words under the risk axis.
    column = {key: text for key, text, _ in marks.column}
    assert column["risk"] == f"{marks.risk * 100:.1f} %"
    assert column["total_points"] == f"{total:.1f} pts"
    summary = " ".join(marks.summary_lines)
    assert f"predicted risk {marks.risk * 100:.1f} %" in summary and "(95 % CI 12.0–31.0 %)" in summary
    # The plotly figure puts its markers there, and the same for matplotlib.
    figure = nomogram_plotly(layout)
    trace = next(t for t in figure.data if t.name == "this patient")
    marked = [a for a in layout.axes if a.patient_x is not None]
    np.testing.assert_allclose(trace.x, [layout.px(a.patient_x) for a in marked])
    np.testing.assert_allclose(trace.y, [a.y_px for a in marked])
    assert any("95 % CI" in a.text for a in figure.layout.annotations)
    drawn = [(line.get_xdata()[0], line.get_ydata()[0]) for line in nomogram_matplotlib(layout).axes[0].lines]
    np.testing.assert_allclose(drawn, [(layout.px(a.patient_x), a.y_px) for a in marked])


def test_patient_beyond_the_axes_is_held_at_the_end_and_flagged(nomograms, patient):
    nomogram = nomograms["two_continuous"]
    far = {**patient, "dl_radiomics_score": 40.0}
    layout = _layout(nomogram, far)
    axis = layout.axis("dl_radiomics_score")
    assert axis.patient_clipped and axis.patient_x == pytest.approx(axis.line[1])
    assert axis.patient_value == pytest.approx(nomogram.points("dl_radiomics_score", 40.0))
    assert layout.axis("risk").patient_clipped


def test_labels_are_in_clinical_words(nomograms):
    nomogram = nomograms["sample_like"]
    layout = _layout(nomogram, level_labels={"location": {"cardia_fundus": "cardia / fundus"}})
    assert layout.axis("cea_ng_ml").title == "CEA (ng/mL)"
    assert layout.axis("risk").title == "Risk of liver metastasis"
    assert layout.axis("total_points").title == "Total points" and layout.axis("points").title == "Points"
    location = {t.value: t.text for t in layout.axis("location").ticks}
    assert location["cardia_fundus"] == "cardia / fundus" and location["over_two_thirds"] == "over two thirds"
    assert nomogram_layout(nomogram, width_px=880, font_size=13).axis("cea_ng_ml").title == "Cea ng ml"
    probability = _layout(nomogram, risk_format="probability").axis("risk")
    assert all(re.fullmatch(r"0\.\d+", t.text) for t in probability.labels)


def test_plotly_figure_is_fixed_in_size_and_hover_gives_points(nomograms, patient):
    layout = _layout(nomograms["five_level"], patient, width=1280, font=14)
    figure = nomogram_plotly(layout)
    assert (figure.layout.width, figure.layout.height) == (1280, round(layout.height_px))
    assert figure.layout.xaxis.range == (0, 1280) and figure.layout.xaxis.fixedrange
    texts = [a.text for a in figure.layout.annotations]
    assert "45-54" in texts and "Age band (years)" in texts
    hovers = [h for trace in figure.data if trace.hovertext is not None for h in trace.hovertext]
    assert any(h.startswith("Age band (years): 45-54 → ") for h in hovers)


@pytest.mark.slow
def test_files_png_at_300_dpi_svg_and_pdf(nomograms, patient):
    layout = _layout(nomograms["sample_like"], patient)
    png = nomogram_file(layout, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, _height = struct.unpack(">II", png[16:24])
    assert width == pytest.approx(layout.width_px / 72 * 300, abs=1.5)
    phys = png.index(b"pHYs")
    x_per_m, y_per_m, unit = struct.unpack(">IIB", png[phys + 4:phys + 13])
    assert unit == 1 and x_per_m == y_per_m == round(300 / 0.0254)
    assert nomogram_file(layout, "svg").lstrip()[:5] == b"<?xml" and b"<svg" in nomogram_file(layout, "svg")
    assert nomogram_file(layout, "PDF")[:5] == b"%PDF-"
    # A4: 170 mm wide, no higher than the page's text; a slide: exactly 16:9.
    a4 = nomogram_file(layout, "png", page="a4")
    a4_width, a4_height = struct.unpack(">II", a4[16:24])
    assert a4_width == pytest.approx(170 / 25.4 * 300, abs=1.5) and a4_height <= 247 / 25.4 * 300 + 1
    slide = nomogram_file(layout, "png", page="slide", dpi=100)
    slide_size = (round(PAGES["slide"][0] / 72 * 100), round(PAGES["slide"][1] / 72 * 100))
    assert struct.unpack(">II", slide[16:24]) == slide_size
    from PIL import Image

    assert Image.open(io.BytesIO(png)).info["dpi"] == pytest.approx((300, 300), abs=0.01)


def test_bad_input_is_refused(nomograms, patient):
    nomogram = nomograms["two_continuous"]
    with pytest.raises(RadNomoError, match="wider"):
        nomogram_layout(nomogram, width_px=120, font_size=13)
    with pytest.raises(RadNomoError, match="values are needed"):
        _layout(nomogram, {"tumour_thickness_mm": 20.0})
    with pytest.raises(RadNomoError, match="not a level"):
        _layout(nomograms["five_level"], {**patient, "age_band": "teen"})
    with pytest.raises(RadNomoError, match="risk_format"):
        _layout(nomogram, risk_format="odds")
    layout = _layout(nomogram)
    with pytest.raises(RadNomoError, match="not supported"):
        nomogram_file(layout, "jpeg")
    with pytest.raises(RadNomoError, match="not known"):
        page_layout(layout, "letter")
    with pytest.raises(RadNomoError, match="no axis"):
        layout.axis("nope")
