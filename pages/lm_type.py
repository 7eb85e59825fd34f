"""Synchronous vs metachronous: among the event patients, how the scores separate the two event types."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from scipy import stats

import ui
from core.stats.evaluation import interval_text, roc_auc, roc_curve
from core.figures.charts import MODEL_LABELS, roc_figure, violin_figure
from core.workflows.fit import SCORE_NAMES, lm_type_outcome, table3

ui.enter_page("pages/lm_type.py")

st.title("Synchronous vs metachronous")
st.caption("Among the patients with the event, do the scores (fitted for event vs no event) also tell the event "
           "types apart? The study found higher DL-radiomics scores in synchronous liver metastasis. Cut-offs are "
           "chosen by Youden's index on the training cohort's event patients.")
ui.explain("lm_type")
study = ui.get_study()
spec = study.spec

with ui.guard():
    candidates = [c for c in study.cohort.columns if c not in (spec.id_column, spec.outcome_column)
                  and study.cohort[c].dtype == object and 2 <= study.cohort[c].nunique() <= 10]
    if not candidates:
        st.warning("The cohort has no categorical column to split the event patients by type.")
        st.stop()
    row = st.columns(3)
    column = row[0].selectbox("Event type column", candidates, key="lmt_column",
                              index=candidates.index("lm_type") if "lm_type" in candidates else 0)
    events = study.cohort.loc[study.cohort[spec.outcome_column] == 1, column].dropna().astype(str)
    levels = sorted(events.unique())
    default_positive = levels.index("synchronous") if "synchronous" in levels else 0
    positive = row[1].selectbox("Higher-score type (positive)", levels, index=default_positive, key="lmt_positive")
    others = [level for level in levels if level != positive]
    negative = row[2].selectbox("Compared with", others, key="lmt_negative",
                                index=others.index("metachronous") if "metachronous" in others else 0)

    types = lm_type_outcome(study.cohort, spec, column, positive, negative)
    predictions = ui.study_predictions(study)
    scores = [s for s in SCORE_NAMES if s in predictions.columns]
    if not scores:
        st.info("No score yet: the study needs radiomics or deep features and a non-empty selection (Selection "
                "page).")
        st.stop()
    who = st.radio("Patients", ["all", "train", "test"], horizontal=True, key="lmt_patients",
                   format_func={"all": "All event patients (as the study)", "train": "Training", "test": "Test"}.get)
    if who != "all":
        keep = set(study.split.train_ids if who == "train" else study.split.test_ids)
        types = types[types.index.isin(keep)]
    st.markdown(f"**{int(types.sum())} {positive}** and **{int((1 - types).sum())} {negative}** event patients.")

    st.subheader("Table 3")
    performance = table3(predictions, types, study.split.train_ids, scores)
    formatted = pd.DataFrame({"score": performance["model"].map(MODEL_LABELS)})
    formatted = formatted.join(interval_text(performance))
    st.dataframe(formatted, hide_index=True, key="lmt_table3")
    ui.csv_download(performance, "table3.csv", label="Table 3 (CSV)", key="lmt_dl_table3")
    st.caption(f"Positive = {positive}. (The study's Table 3 reports its metrics with metachronous as the positive "
               "class; its AUC is the same either way.)")

    left, right = st.columns(2)
    ids = list(types.index)
    curves = {s: roc_curve(types, predictions.loc[ids, s]) for s in scores}
    aucs = {s: (lambda r: (r.auc, r.ci_low, r.ci_high))(roc_auc(types, predictions.loc[ids, s])) for s in scores}
    left.plotly_chart(roc_figure(curves, aucs, title=f"{positive} vs {negative}"), key="lmt_roc")
    score = right.selectbox("Score", scores, index=len(scores) - 1, key="lmt_score", format_func=MODEL_LABELS.get)
    data = predictions.loc[ids, [f"{score}_score"]].assign(type=types)
    groups = [data.loc[data["type"] == k, f"{score}_score"] for k in (1, 0)]
    t_test = stats.ttest_ind(*groups)
    mann_whitney = stats.mannwhitneyu(*groups)
    right.plotly_chart(violin_figure(data, f"{score}_score", "type", labels={0: negative, 1: positive},
                                     title=MODEL_LABELS[score],
                                     p_value_text=f"t-test p {ui.format_p(t_test.pvalue)}, Mann-Whitney p "
                                                  f"{ui.format_p(mann_whitney.pvalue)}"), key="lmt_violin")
