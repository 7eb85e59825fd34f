"""Guided tour: the reference study step by step on the sample study, its published numbers beside ours."""

from __future__ import annotations

import dataclasses

import pandas as pd
import streamlit as st

import ui
from core.stats.evaluation import interval_text
from core.figures.charts import MODEL_LABELS
from core.workflows.fit import MODEL_NAMES, SCORE_NAMES, lm_type_outcome, table2, table3, training_cutoffs
from core.workflows.reproduce import STUDY_SETTINGS, STUDY_TABLE2, STUDY_TABLE3
from core.workflows.teaching import WALKTHROUGH

ui.enter_page("pages/walkthrough.py")

STEP_KEY = "walk_step"

st.title("Guided tour of the study")
st.caption("Guo et al. (2025) predicted liver metastasis of gastric cancer from venous-phase CT. Follow their study "
           "on the sample cohort, from the patients to the nomogram; each step shows their published number beside "
           "RadNomo's and why the two may differ.")
ui.explain("walkthrough")
study = ui.get_study()
if not study.is_sample:
    st.info("The tour runs on the sample study; open it to follow along (your study stays saved if you saved it).")
    if st.button("Open the sample study", key="walk_open_sample"):
        ui.open_sample_study()
        st.rerun()
    st.stop()

spec = study.spec
titles = [step.title for step in WALKTHROUGH]
index = st.session_state.setdefault(STEP_KEY, 0)
navigation = st.columns([1, 1, 6])
if navigation[0].button("Previous", key="walk_previous", disabled=index == 0, icon=":material/arrow_back:"):
    st.session_state[STEP_KEY] = index = index - 1
if navigation[1].button("Next", key="walk_next", disabled=index == len(titles) - 1, icon=":material/arrow_forward:"):
    st.session_state[STEP_KEY] = index = index + 1
st.progress((index + 1) / len(titles), text=f"Step {index + 1} of {len(titles)}")
step = WALKTHROUGH[index]
st.subheader(step.title)
st.markdown(step.what)

with ui.guard():
    # The study's own clinical model (thickness, CEA, CA19-9) with the current screening settings.
    settings = dataclasses.replace(study.model_settings, clinical_continuous=STUDY_SETTINGS.clinical_continuous,
                                   clinical_categorical=STUDY_SETTINGS.clinical_categorical)
    models = ui.study_models(study, settings)
    predictions = models.predict(study.cohort, ui.study_features(study), spec)
    outcome = study.cohort.set_index(spec.id_column)[spec.outcome_column]
    cohorts = {"train": list(study.split.train_ids), "test": list(study.split.test_ids)}
    available = [m for m in MODEL_NAMES if m in predictions.columns]
    cutoffs = training_cutoffs(predictions, outcome, study.split.train_ids, available)
    performance = table2(predictions, outcome, cohorts, cutoffs)
    test = performance[performance["cohort"] == "test"].set_index("model")

    ours: str
    if index == 0:
        ours = (f"{len(study.cohort)} patients, {study.n_events} LM ({study.n_events / len(study.cohort):.1%}), "
                f"training {len(cohorts['train'])} / test {len(cohorts['test'])}.")
    elif index == 1:
        ours = (f"{study.radiomics.shape[1]} radiomics features and {study.deep.shape[1]} deep features per patient."
                if study.radiomics is not None and study.deep is not None else "Features are missing in the study.")
    elif index == 2:
        funnel = models.screening["dl_radiomics"].funnel
        ours = " -> ".join(f"{row.step}: {row.n_features}" for row in funnel.itertuples()) + " (DL + radiomics)."
    elif index == 3:
        ours = "Test AUC: " + ", ".join(f"{MODEL_LABELS[s]} {test.loc[s, 'auc']:.3f}" for s in SCORE_NAMES
                                        if s in test.index) + "."
    elif index == 4:
        ours = (f"Test AUC: clinical {test.loc['clinical', 'auc']:.3f}, fused "
                f"{test.loc['fused', 'auc']:.3f}." if "fused" in test.index else "No fused model.")
    elif index == 5:
        ours = "Table 2 below (RadNomo's row, then the study's)."
    elif index == 6:
        types = lm_type_outcome(study.cohort, spec)
        by_type = table3(predictions, types, study.split.train_ids, ["dl_radiomics"])
        ours = f"AUC {by_type['auc'].iloc[0]:.3f} ({by_type['auc_low'].iloc[0]:.3f}-{by_type['auc_high'].iloc[0]:.3f})."
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
            rows.append({"cohort": row.cohort, "model": MODEL_LABELS[row.model], "source": "RadNomo", **cells})
            published = STUDY_TABLE2.get((row.cohort, row.model))
            if published:
                rows.append({"cohort": row.cohort, "model": MODEL_LABELS[row.model], "source": "study",
                             **dict(zip(cells.index, (v.strip() for v in published.split("|"))))})
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="walk_table2")
    if index == 6:
        st.caption(f"Study's Table 3 (DL-radiomics): {STUDY_TABLE3['dl_radiomics']}")
    if index == 7 and models.fused is not None:
        nomogram = models.nomogram(study.cohort, spec, predictions, "fused")
        st.plotly_chart(ui.nomogram_plot(nomogram)[0], key="walk_nomogram")
