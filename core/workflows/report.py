"""The study report: methods written from the actual settings, Table 1, the selection funnel, Table 2,
ROC / calibration / decision-curve figures, the nomogram and TRIPOD items, as HTML and PDF.

Figures are drawn with matplotlib (static images that need no browser); the PDF is written with
fpdf2 (pure Python). Everything comes from the study's data and fitted models, so the same saved
study gives the same report.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.stats.cohort import CohortSpec, CohortSplit, table_one
from core.stats.evaluation import interval_text
from core.workflows.fit import MODEL_NAMES, StudyModels, table2, training_cutoffs
from core.workflows.sample import VARIABLE_LABELS

__all__ = ["ReportInputs", "Report", "build_report", "SECTIONS"]

SECTIONS = ("Methods", "Table 1", "Feature selection", "Models", "Table 2", "ROC curves", "Calibration",
            "Decision curves", "Nomogram", "TRIPOD checklist")
MODEL_TITLES = {"clinical": "Clinical", "radiomics": "Radiomics score", "dl": "DL score",
                "dl_radiomics": "DL-radiomics score", "fused": "Fused model"}
COLOURS = {"clinical": "#999999", "radiomics": "#E69F00", "dl": "#56B4E9", "dl_radiomics": "#009E73",
           "fused": "#D55E00"}


@dataclass(kw_only=True)
class ReportInputs:
    """What the report is made from (all of it saved with a study)."""

    name: str
    cohort: pd.DataFrame
    spec: CohortSpec
    split: CohortSplit
    models: StudyModels
    predictions: pd.DataFrame
    funnels: dict[str, pd.DataFrame] = field(default_factory=dict)
    radiomics_settings: dict | None = None
    autoencoder: dict | None = None  # e.g. {"latent_size": 512, "crop_size": 64, "epochs": 30}
    is_sample: bool = False


@dataclass(frozen=True)
class Report:
    html: str
    pdf: bytes
    figures: dict[str, bytes]


# ---------------------------------------------------------------------------------------------
# Content
# ---------------------------------------------------------------------------------------------


def methods_text(inputs: ReportInputs) -> list[str]:
    """Methods paragraphs generated from the study's actual settings."""
    s = inputs.models.settings.screening
    n_train, n_test = len(inputs.split.train_ids), len(inputs.split.test_ids)
    paragraphs = [
        f"{len(inputs.cohort)} patients ({int(inputs.cohort[inputs.spec.outcome_column].sum())} with the outcome "
        f"'{inputs.spec.outcome_labels[1]}') were split at random, stratified by outcome, into a training cohort "
        f"({n_train}) and a test cohort ({n_test}) (test fraction {inputs.split.config.test_size:g}, seed "
        f"{inputs.split.config.seed}). Every selection step, model and cut-off was fitted on the training cohort "
        "only; the test cohort was used only to measure performance."]
    settings = inputs.radiomics_settings or {}
    preprocess = settings.get("preprocess") or {}
    params = settings.get("params") or {}
    if params:
        image_types = ", ".join(sorted(params.get("imageType", {})))
        classes = ", ".join(sorted(params.get("featureClass", {})))
        spacing = preprocess.get("spacing_mm")
        paragraphs.append(
            f"Radiomics features were extracted with pyradiomics {settings.get('pyradiomics_version', '')} "
            f"(image types: {image_types}; feature classes: {classes}; bin width "
            f"{params.get('setting', {}).get('binWidth', 'default')})"
            + (f" after resampling to {spacing} mm and clipping intensities to {preprocess.get('hu_range')} HU"
               if spacing else "") + ".")
    if inputs.autoencoder:
        ae = inputs.autoencoder
        paragraphs.append(f"Deep features were the {ae.get('latent_size', 512)}-value latent vector of a 3D "
                          f"convolutional autoencoder trained on the training cohort's {ae.get('crop_size', 64)}-voxel "
                          "ROI-centred crops (1 mm, abdomen window, mask as a second channel).")
    harmonise_by = inputs.models.settings.harmonise_by
    if harmonise_by:
        paragraphs.append(f"Features were harmonised across levels of '{harmonise_by}' with ComBat (parametric "
                          "empirical Bayes; Johnson et al. 2007, Fortin et al. 2018), its location and scale "
                          "estimates fitted on the training cohort and applied unchanged to every other patient.")
    icc = f"features with ICC > {s.icc_threshold:g} between two readers were kept; " if s.icc_threshold else ""
    paragraphs.append(
        f"Feature screening on the training cohort: {icc}features with variance <= {s.variance_threshold:g} were "
        f"dropped; of each pair with |{s.correlation_method} correlation| > {s.correlation_threshold:g} the feature "
        "with the larger mean absolute correlation was dropped (caret::findCorrelation); features with a "
        f"{ {'student': 'Student t-test', 'welch': 'Welch t-test', 'mannwhitney': 'Mann-Whitney U test'}[s.test]} "
        f"p < {s.p_threshold:g} entered a LASSO logistic regression (standardised features, {s.n_folds}-fold "
        f"stratified cross-validation on binomial deviance, lambda.{s.rule}). Radiomics, deep and both feature "
        "families together were screened separately, giving the radiomics, DL and DL-radiomics scores"
        + (", each the linear predictor of a logistic regression refitted on the selected features."
           if inputs.models.settings.score_method == "refit" else ", each with the LASSO's own coefficients."))
    clinical = ", ".join(inputs.models.clinical.variables)
    paragraphs.append(
        f"The clinical model was a multivariable logistic regression of {clinical}. The fused model added the "
        "DL-radiomics score to the clinical predictors and was drawn as a nomogram (rms::nomogram's points scale). "
        "Discrimination: ROC AUC with DeLong 95 % confidence intervals and paired DeLong tests; accuracy, "
        "sensitivity, specificity, PPV and NPV with Wald 95 % intervals at the cut-off maximising Youden's index "
        "on the training cohort; calibration curves, Brier score, calibration intercept and slope and the "
        "Hosmer-Lemeshow test; decision curves (net benefit). Analyses were made with RadNomo.")
    return paragraphs


def tripod_items(inputs: ReportInputs) -> pd.DataFrame:
    """TRIPOD (Collins et al. 2015) items this report addresses, and where."""
    rows = [
        ("4a/5a", "Source of data and setting", "Methods, paragraph 1"
         + (" (synthetic sample cohort)" if inputs.is_sample else "")),
        ("5b", "Eligibility / participants", f"Table 1 ({len(inputs.cohort)} patients)"),
        ("6a", "Outcome definition", f"'{inputs.spec.outcome_column}' = 1 ({inputs.spec.outcome_labels[1]})"),
        ("7a", "Predictors and how measured", "Methods (extraction and screening settings)"),
        ("8", "Sample size", f"{len(inputs.split.train_ids)} training / {len(inputs.split.test_ids)} test; events "
                             f"{int(inputs.cohort[inputs.spec.outcome_column].sum())}"),
        ("10a", "Handling of predictors", "Methods: standardisation, screening, LASSO"),
        ("10b", "Model type and building", "Models section: coefficients of every model"),
        ("10d", "Performance measures", "Table 2, ROC, calibration and decision curves"),
        ("10e/13", "Validation (internal split)", "Test cohort results in Table 2"),
        ("15a", "Full model presented", "Models section and nomogram"),
        ("16", "Model performance", "Table 2 with confidence intervals"),
    ]
    return pd.DataFrame(rows, columns=["item", "topic", "where in this report"])


# ---------------------------------------------------------------------------------------------
# Figures (matplotlib: static, no browser needed)
# ---------------------------------------------------------------------------------------------


def _png(figure) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _figures(inputs: ReportInputs) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from core.stats.evaluation import calibration_curve, decision_curve, roc_auc, roc_curve

    predictions = inputs.predictions
    outcome = inputs.cohort.set_index(inputs.spec.id_column)[inputs.spec.outcome_column]
    models = [m for m in MODEL_NAMES if m in predictions.columns]
    cohorts = {"Training": list(inputs.split.train_ids), "Test": list(inputs.split.test_ids)}
    figures = {}
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    for axis, (title, ids) in zip(axes, cohorts.items(), strict=True):
        for m in models:
            curve = roc_curve(outcome.loc[ids], predictions.loc[ids, m])
            auc = roc_auc(outcome.loc[ids], predictions.loc[ids, m])
            axis.plot(curve["fpr"], curve["tpr"], color=COLOURS[m],
                      label=f"{MODEL_TITLES[m]} {auc.auc:.3f} ({auc.ci_low:.3f}-{auc.ci_high:.3f})")
        axis.plot([0, 1], [0, 1], ls=":", color="grey")
        axis.set(title=f"{title} cohort", xlabel="1 - specificity", ylabel="sensitivity")
        axis.legend(fontsize=7, loc="lower right")
    figures["roc"] = _png(figure)
    test = cohorts["Test"]
    figure, axis = plt.subplots(figsize=(5, 4.6))
    for m in [m for m in ("clinical", "fused") if m in models]:
        binned, smooth = calibration_curve(outcome.loc[test], predictions.loc[test, m])
        axis.plot(binned["mean_predicted"], binned["observed"], "o", color=COLOURS[m])
        axis.plot(smooth["predicted"], smooth["observed"], color=COLOURS[m], label=MODEL_TITLES[m])
    axis.plot([0, 1], [0, 1], ls=":", color="grey")
    axis.set(title="Calibration, test cohort", xlabel="predicted probability", ylabel="observed fraction",
             xlim=(0, 1), ylim=(0, 1))
    axis.legend(fontsize=8)
    figures["calibration"] = _png(figure)
    figure, axis = plt.subplots(figsize=(5.5, 4.6))
    curves = {m: decision_curve(outcome.loc[test], predictions.loc[test, m]) for m in models}
    first = next(iter(curves.values()))
    axis.plot(first["threshold"], first["treat_all"], "k--", label="treat all")
    axis.axhline(0, color="black", lw=0.8, label="treat none")
    for m, curve in curves.items():
        axis.plot(curve["threshold"], curve["net_benefit"], color=COLOURS[m], label=MODEL_TITLES[m])
    top = max(float(c["net_benefit"].max()) for c in curves.values())
    axis.set(title="Decision curves, test cohort", xlabel="threshold probability", ylabel="net benefit",
             ylim=(-0.05, max(0.05, top * 1.15)))
    axis.legend(fontsize=7)
    figures["decision"] = _png(figure)
    figures["nomogram"] = _nomogram_png(inputs)
    return figures


def _nomogram_png(inputs: ReportInputs) -> bytes:
    import matplotlib.pyplot as plt

    which = "fused" if inputs.models.fused is not None else "clinical"
    nomogram = inputs.models.nomogram(inputs.cohort, inputs.spec, inputs.predictions, which)
    rows = ["Points", *nomogram.variables, "Total points", "Risk"]
    figure, axis = plt.subplots(figsize=(9, 0.55 * len(rows) + 0.6))
    total_axis, risk_axis = nomogram.total_points_axis(), nomogram.risk_axis()
    scale = 100.0 / float(total_axis["points"].max())

    def draw(y: int, xs, labels) -> None:
        axis.plot([min(xs), max(xs)], [y, y], color="black", lw=0.8)
        for x, label in zip(xs, labels, strict=True):
            axis.plot([x, x], [y, y + 0.12], color="black", lw=0.8)
            axis.text(x, y + 0.18, label, ha="center", va="bottom", fontsize=6)

    for position, name in enumerate(rows):
        y = len(rows) - position
        if name == "Points":
            ticks = np.arange(0, 101, 10)
            draw(y, ticks, [f"{t:g}" for t in ticks])
        elif name == "Total points":
            draw(y, total_axis["points"] * scale, [f"{t:g}" for t in total_axis["points"]])
        elif name == "Risk":
            shown = risk_axis[risk_axis["risk"].isin([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])]
            draw(y, shown["total_points"] * scale, [f"{r:g}" for r in shown["risk"]])
        else:
            table = nomogram.axis(name)
            labels = [v if isinstance(v, str) else f"{v:g}" for v in table["value"]]
            if name not in nomogram.levels and len(labels) > 8:
                labels = [label if i % 2 == 0 else "" for i, label in enumerate(labels)]
            draw(y, table["points"], labels)
        axis.text(-4, y, VARIABLE_LABELS.get(name, name.replace("_", " ")), ha="right", va="center", fontsize=7)
    axis.set_xlim(-40, 105)
    axis.set_ylim(0.4, len(rows) + 0.8)
    axis.axis("off")
    axis.set_title(f"Nomogram: {MODEL_TITLES[which]}")
    return _png(figure)


# ---------------------------------------------------------------------------------------------
# HTML and PDF
# ---------------------------------------------------------------------------------------------


def _tables(inputs: ReportInputs) -> dict[str, pd.DataFrame]:
    outcome = inputs.cohort.set_index(inputs.spec.id_column)[inputs.spec.outcome_column]
    models = [m for m in MODEL_NAMES if m in inputs.predictions.columns]
    cutoffs = training_cutoffs(inputs.predictions, outcome, inputs.split.train_ids, models)
    performance = table2(inputs.predictions, outcome, {"train": inputs.split.train_ids,
                                                       "test": inputs.split.test_ids}, cutoffs)
    formatted = performance[["cohort", "model"]].assign(model=performance["model"].map(MODEL_TITLES))
    formatted = formatted.join(interval_text(performance))
    table1 = table_one(inputs.cohort, inputs.spec, inputs.split)
    table1 = table1[[c for c in table1.columns if not c.endswith(("significant", "test"))]]
    for column in [c for c in table1.columns if c.endswith(" p")]:
        table1[column] = table1[column].map(lambda p: "" if pd.isna(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}"))
    funnel = pd.concat([table.assign(family=family) for family, table in inputs.funnels.items()],
                       ignore_index=True)[["family", "step", "n_features"]] if inputs.funnels else pd.DataFrame()
    coefficients = []
    for name, model in (("clinical", inputs.models.clinical), ("fused", inputs.models.fused)):
        if model is not None:
            table = model.table[["coef", "OR", "OR_lower", "OR_upper", "p_value"]].round(4).reset_index()
            coefficients.append(table.assign(model=MODEL_TITLES[name]))
    return {"Table 1": table1, "Feature selection": funnel,
            "Models": pd.concat(coefficients, ignore_index=True) if coefficients else pd.DataFrame(),
            "Table 2": formatted, "TRIPOD checklist": tripod_items(inputs)}


def _html(inputs: ReportInputs, paragraphs: list[str], tables: dict[str, pd.DataFrame],
          figures: dict[str, bytes]) -> str:
    def image(key: str, alt: str) -> str:
        return f'<img alt="{alt}" src="data:image/png;base64,{base64.b64encode(figures[key]).decode()}">'

    body = [f"<h1>{html.escape(inputs.name)}</h1>",
            "<p class='note'>Synthetic sample data, not patient data.</p>" if inputs.is_sample else "",
            "<h2>Methods</h2>", *(f"<p>{html.escape(p)}</p>" for p in paragraphs)]
    for section in ("Table 1", "Feature selection", "Models", "Table 2"):
        body += [f"<h2>{section}</h2>", tables[section].to_html(index=False, na_rep="", border=0)]
    body += ["<h2>ROC curves</h2>", image("roc", "ROC curves"), "<h2>Calibration</h2>",
             image("calibration", "Calibration"), "<h2>Decision curves</h2>", image("decision", "Decision curves"),
             "<h2>Nomogram</h2>", image("nomogram", "Nomogram"), "<h2>TRIPOD checklist</h2>",
             tables["TRIPOD checklist"].to_html(index=False, border=0)]
    style = ("body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}"
             "td,th{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}img{max-width:100%}"
             ".note{color:#a33}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(inputs.name)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


_LATIN1 = {"λ": "lambda", "≥": ">=", "≤": "<=", "±": "+/-", "×": "x", "–": "-", "—": "-", "ρ": "rho", "χ": "chi",
           "²": "2", "’": "'", "“": '"', "”": '"'}


def _latin1(text: str) -> str:
    """fpdf2's core fonts are Latin-1: spell out the few other characters the report uses."""
    for character, replacement in _LATIN1.items():
        text = text.replace(character, replacement)
    return text.encode("latin-1", errors="replace").decode("latin-1")


def _pdf(inputs: ReportInputs, paragraphs: list[str], tables: dict[str, pd.DataFrame],
         figures: dict[str, bytes], compress: bool) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("helvetica", "B", 16)
    pdf.multi_cell(0, 8, _latin1(inputs.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", size=9)
    if inputs.is_sample:
        pdf.multi_cell(0, 5, "Synthetic sample data, not patient data.", new_x="LMARGIN", new_y="NEXT")

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_x(pdf.l_margin)
        pdf.set_font("helvetica", "B", 12)
        pdf.multi_cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("helvetica", size=8)

    def table(frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        frame = frame.fillna("").astype(str)
        pdf.set_font("helvetica", size=6 if frame.shape[1] > 7 else 7)
        with pdf.table(line_height=3.5, text_align="LEFT") as grid:
            grid.row([_latin1(str(c)) for c in frame.columns])
            for row in frame.itertuples(index=False):
                grid.row([_latin1(str(v)) for v in row])

    heading("Methods")
    for paragraph in paragraphs:
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(0, 4.5, _latin1(paragraph), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    for section in ("Table 1", "Feature selection", "Models", "Table 2"):
        heading(section)
        table(tables[section])
    for section, key in (("ROC curves", "roc"), ("Calibration", "calibration"), ("Decision curves", "decision"),
                         ("Nomogram", "nomogram")):
        heading(section)
        pdf.image(io.BytesIO(figures[key]), w=170 if key in ("roc", "nomogram") else 110)
    heading("TRIPOD checklist")
    table(tables["TRIPOD checklist"])
    return bytes(pdf.output())


def build_report(inputs: ReportInputs, *, compress: bool = True) -> Report:
    """The report as HTML (figures embedded) and PDF; ``compress=False`` keeps PDF text searchable in tests."""
    paragraphs = methods_text(inputs)
    tables = _tables(inputs)
    figures = _figures(inputs)
    return Report(html=_html(inputs, paragraphs, tables, figures),
                  pdf=_pdf(inputs, paragraphs, tables, figures, compress), figures=figures)
