"""Subgroups: do the scores tell two levels of a categorical column apart (e.g. synchronous vs metachronous)?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.figures.charts import roc_figure, violin_figure
from core.figures.palette import model_colours
from core.stats.evaluation import interval_text, roc_auc, roc_points
from core.vocabulary import COHORTS, SUBGROUP_POPULATIONS, format_p, score_column
from core.workflows.study import SubgroupSettings
from core.workflows.subgroups import compare_subgroup, subgroup_columns, subgroup_levels

ui.enter_page("pages/subgroups.py")

st.title("Subgroups")
study = ui.get_study()
st.caption("Do the scores (fitted for event vs no event) also tell two levels of a categorical column apart? "
           + ("The reference study asked it of synchronous vs metachronous liver metastasis among the patients with "
              "LM (its Table 3): the sample study's default. " if study.is_sample else "")
           + "Cut-offs are chosen by Youden's index on the training patients compared and applied unchanged to the "
             "test patients.")
ui.explain("subgroups")

with ui.guard():
    columns = subgroup_columns(study)
    if not columns:
        st.warning("The cohort has no categorical column (2 to 12 levels) to compare subgroups by.")
        st.stop()
    default = study.subgroup
    row = st.columns(4)
    column = row[0].selectbox("Column", columns, key="sub_column", format_func=study.label,
                              index=columns.index(default.column) if default and default.column in columns else 0)
    populations = list(SUBGROUP_POPULATIONS)
    population = row[1].radio("Among", populations, key="sub_population", format_func=SUBGROUP_POPULATIONS.get,
                              index=populations.index(default.population) if default else 0)
    levels = subgroup_levels(study, column, population)
    if len(levels) < 2:
        st.warning(f"'{study.label(column)}' has fewer than two levels among these patients.")
        st.stop()
    preferred = default if default and default.column == column else None
    positive = row[2].selectbox("Higher-score level (positive)", levels, key="sub_positive",
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
    scores = list(models.scores)
    if not scores:
        st.info("No score yet: the study needs a feature family and a non-empty selection (Selection page).")
        st.stop()
    ids = None if who == "all" else study.cohorts()[who]
    result = compare_subgroup(study, predictions, scores, SubgroupSettings(column=column, population=population,
                                                                          positive=positive, negative=negative), ids)
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
