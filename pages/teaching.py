"""Teaching: the known truth behind the synthetic cohort, a "what if" re-run on a new cohort, and leakage."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import ui
from core.stats.summaries import auc_table
from core.workflows.teaching import TRAITS, leakage_measure, oracle_auc, trait_effects, what_if

ui.enter_page("pages/teaching.py")

RUNS_KEY = "teach_runs"  # the what-if runs of this session, newest last

st.title("Teaching")
st.caption("What no real study can show: the sample cohort was generated, so the truth behind it is known. Compare "
           "the pipeline with the best possible imaging model, draw new cohorts with a stronger or weaker imaging "
           "effect to watch overfitting appear, and see what selecting features on all patients does.")
ui.explain("teaching")
study = ui.get_study()
spec = study.spec
# The generator's truth (and the what-if cohorts) describe the binary sample's outcome, liver metastasis: the open
# study can use them only when it is that sample study (the survival sample has the same patients, another outcome).
truth_applies = study.is_sample and spec.outcome == ui.sample_study().spec.outcome

# ---------------------------------------------------------------------------------------------
st.subheader("The known truth")
with ui.guard():
    truth = ui.results(ui.sample_study()).sample_truth
    st.markdown("Each synthetic patient has a hidden imaging phenotype of seven traits, each normally distributed "
                "(mean 0, SD 1) without LM and shifted with LM, more with synchronous LM. The renderer turns the "
                "traits into the CT: enhancement, texture, necrosis, margin, extent, and infiltration of the fat "
                "around the tumour (outside the ROI, so only the autoencoder's crop sees it).")
    effects = trait_effects()
    effects.index = [t.replace("_", " ") for t in TRAITS]
    st.dataframe(effects.round(2), key="teach_effects")
    if not study.is_sample:
        st.info("The open study is not the sample study: its truth is unknown. The panels below use the sample "
                "study's generator.")
    elif not truth_applies:
        st.info("The open sample study predicts another outcome than the one the hidden phenotype was drawn for "
                "(liver metastasis): the truth and the what-if panel below use the binary sample study; the "
                "leakage demonstration runs on the open study.")
    else:
        predictions = ui.results(study).predictions
        scores = list(ui.results(study).models.scores)
        cohorts = study.cohorts()
        aucs = auc_table(predictions, study.outcome, cohorts, scores)
        rows = {"oracle (the true phenotype, Bayes-optimal)": {c: oracle_auc(truth, study.outcome, ids)
                                                               for c, ids in cohorts.items()}}
        for name in scores:
            rows[study.model_label(name)] = aucs[name].to_dict()
        known = pd.DataFrame(rows).T
        st.dataframe(known.round(3), key="teach_known_truth")
        st.caption("The oracle scores each patient by the likelihood ratio of their true traits (LM vs no LM): no "
                   "imaging model can do better on average. The gap to the scores is what the images, the features "
                   "and the selection lose; the gap between training and test is optimism.")

# ---------------------------------------------------------------------------------------------
st.subheader("What if? A new cohort, the whole pipeline again")
st.caption("Draws a new synthetic cohort from the generator with the chosen imaging effect and size, gives it "
           "features (each feature's link to the hidden traits learned from the 1001 rendered sample CTs, plus "
           "residual noise drawn from real extractions), and runs the pipeline: screening, LASSO, scores, models, "
           "7:3 split. Try a weak effect with few patients: training AUCs stay high, test AUCs fall.")
controls = st.columns(4)
n = controls[0].number_input("Patients", 60, 3000, 300, 20, key="teach_n")
effect = controls[1].slider("Imaging effect (x the sample's)", 0.0, 3.0, 1.0, 0.25, key="teach_effect")
noise = controls[2].slider("Feature noise (x)", 0.25, 3.0, 1.0, 0.25, key="teach_noise")
seed = controls[3].number_input("Seed", 0, 10_000, 1, key="teach_seed")
runs: list = st.session_state.setdefault(RUNS_KEY, [])
if st.button("Draw the cohort and run the pipeline", key="teach_run", type="primary",
             icon=":material/play_arrow:"):
    with ui.guard(), st.spinner("Generating the cohort and fitting every model on its training patients..."):
        sample = ui.sample_study()
        result = what_if(ui.results(sample).emulators, sample, n=int(n), effect_scale=float(effect),
                         noise_scale=float(noise), seed=int(seed), settings=study.settings if truth_applies else None)
        runs.append(result)
if runs:
    sample_labels = ui.sample_study().model_labels()
    table = pd.DataFrame([{"run": i + 1, "patients": r.n, "events": r.events, "effect": r.effect_scale,
                           "noise": r.noise_scale, "oracle test AUC": r.oracle_test,
                           **{f"{sample_labels[m]} train": r.aucs.loc["train", m] for m in r.aucs.columns},
                           **{f"{sample_labels[m]} test": r.aucs.loc["test", m] for m in r.aucs.columns},
                           "seconds": r.seconds} for i, r in enumerate(runs)])
    st.dataframe(table.round(3), hide_index=True, key="teach_runs_table")
    latest = runs[-1]
    st.markdown(f"Latest run: the fused model's training AUC exceeds its test AUC by "
                f"**{latest.optimism.get('fused', float('nan')):.3f}** (optimism); the best possible imaging AUC on "
                f"its test cohort was **{latest.oracle_test:.3f}**.")
    if st.button("Clear the runs", key="teach_clear"):
        runs.clear()
        st.rerun()

# ---------------------------------------------------------------------------------------------
st.subheader("Leakage: selecting features on all patients")
measure = leakage_measure(study)  # the open study's outcome type's headline measure: AUC, or Harrell's C-index
st.caption("The same pipeline twice on the open study: once as it should be (screening and LASSO on the training "
           "cohort only), once with the classic mistake of screening on all patients before splitting (the models "
           f"are still fitted on training). The test cohort then helped choose the features, and its {measure} is "
           "inflated.")
if st.toggle("Run the leakage demonstration", key="teach_leakage"):
    with ui.guard():
        table = ui.results(study).leakage
        table.index = table.index.map(study.model_label)
        st.dataframe(table.rename(columns={"honest": f"test {measure}, training-only screening",
                                           "leaky": f"test {measure}, screening on all patients",
                                           "inflation": "inflation"}).round(3), key="teach_leakage_table")

