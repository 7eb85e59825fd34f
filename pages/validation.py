"""Internal validation: Harrell's bootstrap optimism-corrected AUC and repeated cross-validation of the
whole pipeline, beside the apparent (training) and test AUCs."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import ui
from core.stats.summaries import auc_table
from core.workflows.sample import SAMPLE_VALIDATION_DIR
from core.workflows.validation import load_saved_validation, optimism_corrected_auc, repeated_cv_auc, validation_table

ui.enter_page("pages/validation.py")

RESULTS_KEY = "val_results"  # study fingerprint -> {"optimism", "runs", "cv"}

st.title("Internal validation")
st.caption("The training AUC of a model chosen from thousands of features is optimistic. Harrell's bootstrap "
           "repeats the whole pipeline (screening, LASSO-CV, scores, clinical and fused models) on resamples of "
           "the training cohort and subtracts the average optimism; repeated cross-validation refits it on folds "
           "and scores the held-out patients. Neither touches the test cohort.")
ui.explain("validation")
study = ui.get_study()
results: dict = st.session_state.setdefault(RESULTS_KEY, {})
current = results.setdefault(study.fingerprint, {})

with ui.guard():
    models = ui.study_models(study)
    predictions = ui.study_predictions(study)
    aucs = auc_table(predictions, study.outcome, study.cohorts(), models.model_names)
    if study.is_sample and not current:
        saved = load_saved_validation(SAMPLE_VALIDATION_DIR, study)
        if saved is not None:
            current.update(optimism=saved["optimism"], runs=saved["runs"], cv=saved["cv"])
            st.info(f"Computed in advance for the sample study with these settings ({saved['meta']['n_boot']} "
                    f"resamples, {saved['meta']['repeats']} x {saved['meta']['folds']}-fold CV): "
                    f"`{saved['meta']['command']}`. Change a setting and run it again below.", icon=":material/info:")

    st.subheader("Run")
    left, right = st.columns(2)
    n_boot = left.number_input("Bootstrap resamples", 10, 1000, 200, 10, key="val_n_boot",
                               help="Harrell recommends at least 200. Each resample refits the whole pipeline: "
                                    "about 8 s on 2 cores for the full sample study (200 resamples: about "
                                    "half an hour), a second or two for small studies.")
    seed = left.number_input("Seed", 0, 2**31 - 1, 0, key="val_seed")
    if left.button("Run the bootstrap", key="val_run_boot", icon=":material/play_arrow:"):
        progress = st.progress(0.0, text="Refitting the pipeline on bootstrap resamples...")
        result = optimism_corrected_auc(study, n_boot=int(n_boot), seed=int(seed),
                                        on_progress=lambda b, n: progress.progress(b / n, text=f"Resample {b} of {n}"))
        current.update(optimism=result.table, runs=result.runs)
        progress.empty()
    folds = right.number_input("CV folds", 3, 10, 5, key="val_folds")
    repeats = right.number_input("Repeats", 1, 20, 2, key="val_repeats")
    if right.button("Run repeated cross-validation", key="val_run_cv", icon=":material/play_arrow:"):
        progress = st.progress(0.0, text="Refitting the pipeline on every fold...")
        current["cv"] = repeated_cv_auc(study, n_folds=int(folds), n_repeats=int(repeats), seed=int(seed),
                                        on_progress=lambda d, n: progress.progress(d / n, text=f"Fold {d} of {n}"))
        progress.empty()

    st.subheader("Apparent, optimism-corrected, cross-validated and test AUC")
    table = validation_table(aucs, models.model_names, current.get("optimism"), current.get("cv"))
    table.index = table.index.map(study.model_label)
    st.dataframe(table.round(3), key="val_table")
    ui.csv_download(table.reset_index(names="model"), "internal_validation.csv", label="Table (CSV)",
                    key="val_dl_table")
    if "optimism" not in current:
        st.caption("Run the bootstrap to add the optimism-corrected AUC.")
    else:
        runs = current["runs"]
        figure = go.Figure()
        for model in [m for m in models.model_names if m in set(runs["model"])]:
            rows = runs[runs["model"] == model]
            figure.add_trace(go.Box(y=rows["optimism"], name=study.model_label(model),
                                    boxmean=True))
        figure.update_layout(title="Optimism per resample (AUC on the resample - AUC on the training cohort)",
                             yaxis_title="optimism", showlegend=False, height=380)
        st.plotly_chart(figure, key="val_optimism_figure")
        ui.csv_download(runs, "optimism_runs.csv", label="Every resample (CSV)", key="val_dl_runs")
