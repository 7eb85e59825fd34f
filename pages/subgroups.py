"""Subgroups: two levels of a categorical column compared, as the open study's outcome type asks it. A binary
study: do the scores tell the levels apart (e.g. synchronous vs metachronous)? A time-to-event study: the two
groups' Kaplan-Meier curves and log-rank test, and every model's discrimination within each group."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.figures.charts import roc_figure, violin_figure
from core.figures.palette import model_colours
from core.figures.survival import kaplan_meier_figure
from core.stats.evaluation import interval_text, roc_auc, roc_points
from core.vocabulary import (COHORTS, DISCRIMINATION_MEASURES, SUBGROUP_POPULATIONS, format_p, horizon_column,
                             score_column)
from core.workflows.study import Study, SubgroupSettings
from core.workflows.subgroups import (SAMPLE_SURVIVAL_SUBGROUP, default_subgroup, subgroup_analysis, subgroup_columns,
                                      subgroup_levels)

ui.enter_page("pages/subgroups.py")


def binary_intro(study: Study) -> str:
    return ("Do the scores (fitted for event vs no event) also tell two levels of a categorical column apart? "
            + ("The reference study asked it of synchronous vs metachronous liver metastasis among the patients with "
               "LM (its Table 3): the sample study's default. " if study.is_sample else "")
            + "Cut-offs are chosen by Youden's index on the training patients compared and applied unchanged to the "
              "test patients.")


def survival_intro(study: Study) -> str:
    return ("Two groups of patients, by a column: does survival differ between them (Kaplan-Meier curves, log-rank "
            "test), and does each model still rank the patients within each group (Harrell's C and the "
            "time-dependent AUC at each horizon, of its linear predictor)? Nothing is refitted: the models are the "
            "study's." + (" The sample's default compares the patients with liver metastasis (Lm = 1) with those "
                          "without (Lm = 0): liver metastasis is not one of its predictors (it is found during "
                          "follow-up) but raises the synthetic cohort's hazard."
                          if study.is_sample and default_subgroup(study) == SAMPLE_SURVIVAL_SUBGROUP else ""))



def binary_view(study: Study, result, predictions: pd.DataFrame, scores: list[str], who: str,
                default: SubgroupSettings | None) -> None:
    """Table 3, the ROC curves of the two levels and one score's violins (a binary study)."""
    column, population = result.settings.column, result.settings.population
    positive, negative = result.settings.positive, result.settings.negative
    st.markdown(f"**{result.counts[positive]} {positive}** and **{result.counts[negative]} {negative}** "
                f"{'event patients' if population == 'events' else 'patients'}.")
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")

    labels, colours = study.model_labels(), model_colours(study.model_names)
    st.subheader("Table 3")
    formatted = pd.DataFrame({"score": result.table["model"].map(labels)}).join(interval_text(result.table))
    st.dataframe(formatted, hide_index=True, key="sub_table3")
    ui.csv_download(result.table, "table3.csv", label="Table 3 (CSV)", key="sub_dl_table3")
    shown = {"all": "all patients compared", "train": "the training patients compared",
             "test": "the test patients compared"}[who]
    st.caption(f"{study.label(column)}: positive = {positive}, compared with {negative}, among "
               f"{'the event patients' if population == 'events' else 'all patients'}; metrics on {shown}, each "
               "score's cut-off chosen by Youden's index on the training patients compared"
               + (" and applied unchanged here." if who == "test" else ".")
               + (" The reference study's Table 3 reports its metrics with metachronous as the positive class; "
                  "the AUC is the same either way." if default is not None and column == default.column else ""))

    left, right = st.columns(2)
    groups = result.groups
    curves = {s: roc_points(groups, predictions.loc[groups.index, s]) for s in scores}
    aucs = {s: (lambda r: (r.auc, r.ci_low, r.ci_high))(roc_auc(groups, predictions.loc[groups.index, s]))
            for s in scores}
    left.plotly_chart(roc_figure(curves, aucs, title=f"{positive} vs {negative}", labels=labels, colours=colours),
                      key="sub_roc")
    score = right.selectbox("Score", scores, index=len(scores) - 1, key="sub_score", format_func=labels.get)
    data = predictions.loc[groups.index, [score_column(score)]].assign(group=groups)
    comparison = result.comparisons[score]
    right.plotly_chart(violin_figure(data, score_column(score), "group", labels={0: negative, 1: positive},
                                     title=labels[score],
                                     p_value_text=f"t-test p {format_p(comparison.t_p_value)}, Mann-Whitney p "
                                                  f"{format_p(comparison.mann_whitney_p_value)}",
                                     y_title="score (log-odds)"), key="sub_violin")


def _interval(value: float, low: float, high: float) -> str:
    """'estimate (low-high)' to three decimals; an empty cell where there is no estimate."""
    return "" if not np.isfinite(value) else f"{value:.3f} ({low:.3f}-{high:.3f})"


def survival_view(study: Study, result, predictions: pd.DataFrame, models: list[str], who: str,
                  default: SubgroupSettings | None) -> None:
    """The two groups' Kaplan-Meier curves with the log-rank test and survival table, and every model's Harrell's C
    and time-dependent AUC within each group (a time-to-event study)."""
    outcome = study.spec.outcome
    unit, horizons = outcome.time_unit, tuple(outcome.horizons)  # type: ignore[attr-defined]
    column = result.settings.column
    positive, negative = result.settings.positive, result.settings.negative
    names = {level: f"{study.label(column)} = {level}" for level in (positive, negative)}
    st.markdown(" and ".join(f"**{result.counts[level]} patients with {names[level]}** ({result.events[level]} "
                             "events)" for level in (positive, negative)) + f"; the event: {outcome.event_label}.")
    for warning in result.warnings:
        st.warning(warning, icon=":material/warning:")
    shown = {"all": "all patients", "train": "the training patients", "test": "the test patients"}[who]

    st.subheader("Survival of the two groups")
    left, right = st.columns([3, 2])
    test = result.log_rank
    left.plotly_chart(kaplan_meier_figure({names[level]: curve for level, curve in result.curves.items()},
                                          title=f"{names[positive]} vs {names[negative]}", time_unit=unit,
                                          log_rank_p=None if test is None else float(test.p),
                                          y_title=f"probability free of {outcome.event_label}"), key="sub_s_km")
    table = result.survival
    survival = pd.DataFrame({
        "group": table["group"].map(names), "patients": table["n"], "events": table["events"],
        f"median ({unit})": [("not reached" if not np.isfinite(m) else f"{m:.1f} ("
                              f"{f'{lo:.1f}' if np.isfinite(lo) else '-'}-"
                              f"{f'{hi:.1f}' if np.isfinite(hi) else 'not reached'})")
                             for m, lo, hi in table[["median", "median_low", "median_high"]].itertuples(index=False)],
        **{f"free of {outcome.event_label} at {outcome.horizon_label(h)}":
           table[horizon_column(h)].map(lambda v: "" if not np.isfinite(v) else f"{v:.1%}") for h in horizons}})
    right.dataframe(survival, hide_index=True, key="sub_s_survival")
    if test is not None:
        right.markdown(f"Log-rank test: chi-square {test.chisq:.2f} ({test.df} df), p {format_p(test.p)}.")
    right.caption(f"Kaplan-Meier estimates on {shown}; the median with its 95 % interval (not reached: the curve "
                  "stays above 50 %); an empty cell is beyond the group's last follow-up.")

    st.subheader("Discrimination within each group")
    labels = study.model_labels()
    concordance = result.concordance
    td = result.td_auc
    rows = []
    for row in concordance.itertuples(index=False):
        entry = {"group": names[row.group], "model": labels.get(row.model, row.model), "patients": row.n,
                 "events": row.events,
                 DISCRIMINATION_MEASURES["c_index"]: _interval(row.c_index, row.c_low, row.c_high)}
        for h in horizons:
            auc = td[(td["group"] == row.group) & (td["model"] == row.model) & (td["horizon"] == h)]
            entry[DISCRIMINATION_MEASURES["td_auc"].replace("{horizon}", outcome.horizon_label(h))] = (
                _interval(*auc[["auc", "auc_low", "auc_high"]].iloc[0]) if len(auc) else "")
        rows.append(entry)
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="sub_s_discrimination")
    downloads = st.columns(3)
    with downloads[0]:
        ui.csv_download(concordance, "subgroup_concordance.csv", label="C-index per group (CSV)", key="sub_dl_c")
    with downloads[1]:
        ui.csv_download(td, "subgroup_td_auc.csv", label="AUC(t) per group (CSV)", key="sub_dl_td")
    with downloads[2]:
        ui.csv_download(table, "subgroup_survival.csv", label="Survival per group (CSV)", key="sub_dl_surv")
    st.caption(f"On {shown} of each group, every model's linear predictor as fitted on the training cohort: "
               "Harrell's C with its 95 % interval (survival's standard error), and the time-dependent AUC at each "
               "horizon (inverse probability of censoring weights, 95 % interval); an empty cell cannot be "
               "estimated there (see the warnings above). Within a group the patients differ less than in the whole "
               "cohort, so lower values are expected.")


@dataclass(frozen=True)
class View:
    """How the page shows one outcome kind's comparison: its introduction, the level choices' labels, what to say
    when nothing can be compared, and the function that draws the result."""

    intro: Callable[[Study], str]
    positive_label: str
    nothing: str
    draw: Callable[..., None]


#: Outcome kind -> its view (the analysis itself: core.workflows.subgroups.SUBGROUP_ANALYSES).
VIEWS = {
    "binary": View(binary_intro, "Higher-score level (positive)",
                   "No score yet: the study needs a feature family and a non-empty selection (Selection page).",
                   binary_view),
    "survival": View(survival_intro, "Group", "No model yet: fit the study's models (Models page).", survival_view),
}

st.title("Subgroups")
study = ui.get_study()
analysis = subgroup_analysis(study)
view = VIEWS[analysis.kind]
st.caption(view.intro(study))
ui.explain("subgroups")

with ui.guard():
    columns = subgroup_columns(study)
    if not columns:
        st.warning("The cohort has no categorical column (2 to 12 levels) to compare subgroups by.")
        st.stop()
    default = default_subgroup(study)
    row = st.columns(4)
    column = row[0].selectbox("Column", columns, key="sub_column", format_func=study.label,
                              index=columns.index(default.column) if default and default.column in columns else 0)
    populations = list(analysis.populations)
    population = row[1].radio("Among", populations, key="sub_population", format_func=SUBGROUP_POPULATIONS.get,
                              index=populations.index(default.population)
                              if default and default.population in populations else 0)
    levels = subgroup_levels(study, column, population)
    if len(levels) < 2:
        st.warning(f"'{study.label(column)}' has fewer than two levels among these patients.")
        st.stop()
    preferred = default if default and default.column == column else None
    positive = row[2].selectbox(view.positive_label, levels, key="sub_positive",
                                index=levels.index(preferred.positive) if preferred and preferred.positive in levels
                                else 0)
    others = [level for level in levels if level != positive]
    negative = row[3].selectbox("Compared with", others, key="sub_negative",
                                index=others.index(preferred.negative) if preferred and preferred.negative in others
                                else 0)
    who = st.radio("Patients", ["all", *study.cohorts()], horizontal=True, key="sub_patients",
                   format_func={"all": "All (as the study)", **COHORTS}.get)

    models = ui.results(study).models
    predictions = ui.results(study).predictions
    compared = analysis.compared(models)
    if not compared:
        st.info(view.nothing)
        st.stop()
    ids = None if who == "all" else study.cohorts()[who]
    result = analysis.compare(study, predictions, compared, SubgroupSettings(column=column, population=population,
                                                                            positive=positive, negative=negative), ids)
    view.draw(study, result, predictions, compared, who, default)
