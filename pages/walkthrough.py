"""Guided tour: the reference study step by step on the sample study, its published numbers beside ours."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.stats.evaluation import interval_text
from core.workflows.reproduce import STUDY_TABLE2, STUDY_TABLE3
from core.workflows.teaching import WALKTHROUGH
from core.workflows.tour import tour_study
from core.figures.nomogram import nomogram_plotly
from core.workflows.nomograms import study_nomogram_layout

ui.enter_page("pages/walkthrough.py")

STEP_KEY = "walk_step"
# The outcome kinds of the reference study the tour follows (core.vocabulary.OUTCOME_KINDS).
TOUR_OUTCOME_KINDS = ("binary",)

st.title("Guided tour of the study")
st.caption("Guo et al. (2025) predicted liver metastasis of gastric cancer from venous-phase CT. Follow their study "
           "on the sample cohort, from the patients to the nomogram; each step shows their published number beside "
           "RadNomo's and why the two may differ.")
ui.explain("walkthrough")
study = ui.get_study()
# The tour follows the reference study's binary outcome (liver metastasis): the survival sample has other numbers.
if not study.is_sample or study.spec.outcome.kind not in TOUR_OUTCOME_KINDS:
    st.info("The tour runs on the sample study of liver metastasis (a binary outcome); open it to follow along (your "
            "study stays saved if you saved it).")
    if st.button("Open the sample study", key="walk_open_sample"):
        ui.set_study(ui.sample_study(), "The sample study is open.", rerun=True)
    st.stop()

spec = study.spec
titles = [step.title for step in WALKTHROUGH]
index = st.session_state.setdefault(STEP_KEY, 0)
navigation = st.columns([1, 1, 6])
# A click changes the step and runs the page again, so the buttons are drawn for the step shown
# (Next disabled on the last step, Previous on the first).
if navigation[0].button("Previous", key="walk_previous", disabled=index == 0, icon=":material/arrow_back:"):
    st.session_state[STEP_KEY] = index - 1
    st.rerun()
if navigation[1].button("Next", key="walk_next", disabled=index == len(titles) - 1, icon=":material/arrow_forward:"):
    st.session_state[STEP_KEY] = index + 1
    st.rerun()
st.progress((index + 1) / len(titles), text=f"Step {index + 1} of {len(titles)}")
step = WALKTHROUGH[index]
st.subheader(step.title)
st.markdown(step.what)

st.caption("The tour uses the study's own clinical model (tumour thickness, CEA, CA19-9: the independent predictors "
           "of its multivariable analysis). The Models page starts from every variable with univariable p < 0.05 in "
           "the synthetic training cohort (8 of them), so its clinical AUCs differ; pick the same three there to see "
           "the same numbers.")

with ui.guard():
    # The study's own clinical model (thickness, CEA, CA19-9) with the current screening settings: its numbers
    # are stored with the sample (computed afresh only when the sample's settings were changed).
    tour = tour_study(study)
    numbers = ui.results(tour).tour_numbers
    models, performance = numbers.models, numbers.performance
    labels = {m: tour.model_label(m) for m in models.model_names}
    cohorts = tour.cohorts()
    test = performance[performance["cohort"] == "test"].set_index("model")

    ours: str
    if index == 0:
        ours = (f"{len(study.cohort)} patients, {study.n_events} LM ({study.n_events / len(study.cohort):.1%}), "
                f"training {len(cohorts['train'])} / test {len(cohorts['test'])}.")
    elif index == 1:
        ours = ", ".join(f"{f.table.shape[1]} {f.label} features" for f in study.families) + " per patient."
    elif index == 2:
        funnel = numbers.funnels["dl_radiomics"]
        ours = " -> ".join(f"{row.step}: {row.n_features}" for row in funnel.itertuples()) + " (DL + radiomics)."
    elif index == 3:
        ours = "Test AUC: " + ", ".join(f"{labels[s]} {test.loc[s, 'auc']:.3f}" for s in models.scores
                                        if s in test.index) + "."
    elif index == 4:
        ours = (f"Test AUC: clinical {test.loc['clinical', 'auc']:.3f}, fused "
                f"{test.loc['fused', 'auc']:.3f}." if {"clinical", "fused"} <= set(test.index)
                else "No clinical or fused model with these settings.")
    elif index == 5:
        ours = "Table 2 below (RadNomo's row, then the study's)."
    elif index == 6:
        by_type = numbers.subgroup
        ours = (f"AUC {by_type['auc'].iloc[0]:.3f} "
                f"({by_type['auc_low'].iloc[0]:.3f}-{by_type['auc_high'].iloc[0]:.3f})."
                if len(by_type) else "No fused model, so no subgroup comparison of its score.")
    else:
        ours = "The nomogram below."

    left, right = st.columns(2)
    left.markdown(f"**The study**  \n{step.study}")
    right.markdown(f"**RadNomo, sample study**  \n{ours}")
    st.caption(f"Why they may differ: {step.why_different}")

    if index == 5:
        rows = []
        for row in performance.itertuples():
            cells = interval_text(performance.loc[[row.Index]]).iloc[0]
            rows.append({"cohort": row.cohort, "model": labels[row.model], "source": "RadNomo", **cells})
            published = STUDY_TABLE2.get((row.cohort, row.model))
            if published:
                rows.append({"cohort": row.cohort, "model": labels[row.model], "source": "study",
                             **dict(zip(cells.index, (v.strip() for v in published.split("|")), strict=True))})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="walk_table2")
    if index == 6:
        st.caption(f"Study's Table 3 (DL-radiomics): {STUDY_TABLE3['dl_radiomics']}")
    if index == 7 and models.fused is not None:
        nomogram = models.nomogram(tour, numbers.predictions, "fused")
        st.plotly_chart(nomogram_plotly(study_nomogram_layout(tour, nomogram)), key="walk_nomogram",
                        width="content", theme=None)
