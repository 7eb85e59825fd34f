"""Internal validation: Harrell's bootstrap optimism-corrected discrimination and repeated cross-validation of
the whole pipeline, beside the apparent (training) and test values. The measures are the outcome type's
(core.stats.discrimination): the AUC of a binary outcome; Harrell's C and AUC(t) at each horizon of a
time-to-event one (one row and one box per model and measure).

A run refits the whole pipeline many times (minutes to an hour), so it runs in a background thread that
hands the resamples to local worker processes (one per core) or to an existing Dask cluster (the
scheduler setting; the numbers are the same wherever they run): the page shows the resamples done and
the time left, and a Stop button; what was done before Stop is kept. The latest run is kept
with the study (saved with it, in the report) for as long as the study's data and settings stay the same.
"""

from __future__ import annotations

import threading

import plotly.graph_objects as go
import streamlit as st

import ui
from core.errors import RadNomoError
from core.figures.charts import corrected_calibration_figure
from core.figures.palette import model_colours
from core.stats.discrimination import MEASURE, measure_names, measures_text
from core.workflows.cluster import describe_setting, executor_setting, time_left
from core.workflows.validation import (CALIBRATED_KINDS, RUN_LIMITS, calibration_optimism_notes, check_run_size,
                                       discrimination_table, optimism_corrected_auc, repeated_cv_auc,
                                       resampling_summary, study_validation, validation_notes, validation_table,
                                       with_bootstrap, with_cv)

ui.enter_page("pages/validation.py")

JOB_KEY = "_val_job"  # the run in the background: see _start
POLL_S = 1.0  # how often the progress is redrawn while a run goes on
WHERE_KEY = "val_where"  # the checked scheduler setting (executor_setting); absent while the input is malformed
TYPED_KEY = "_val_scheduler_typed"  # what was typed, kept for the session when the page is left


def _start(kind: str, study, work, params: dict) -> None:
    """Run ``work(on_progress, should_stop)`` in a background thread; its state lives in the session under JOB_KEY.

    The thread touches no Streamlit call: it writes its progress, result or error into the job's dict,
    which the page reads on its next run.
    """
    job = {"kind": kind, "key": study.validation_key, "params": params, "progress": (0, 1, None), "result": None,
           "error": None, "stop": threading.Event()}

    def target() -> None:
        try:
            job["result"] = work(lambda done, total, left: job.__setitem__("progress", (done, total, left)),
                                 job["stop"].is_set)
        except RadNomoError as error:
            job["error"] = str(error)
        except Exception as error:  # noqa: BLE001 - shown on the page, the study is left as it was
            job["error"] = f"the run failed unexpectedly ({type(error).__name__}: {error})."

    job["thread"] = threading.Thread(target=target, daemon=True, name=f"validation-{kind}")
    st.session_state[JOB_KEY] = job
    job["thread"].start()


def _collect(study):
    """A finished background run goes into the study (when the study it was run on is still the open one)."""
    job = st.session_state.get(JOB_KEY)
    if job is None or job["thread"].is_alive():
        return study
    st.session_state.pop(JOB_KEY)
    if job["error"]:
        st.error(f"The {job['kind']} stopped: {job['error']}", icon=":material/error:")
        return study
    if job["key"] != study.validation_key:
        st.warning(f"The study's data or settings changed while the {job['kind']} ran, so its result was not kept; "
                   "run it again.", icon=":material/warning:")
        return study
    params, result = job["params"], job["result"]
    if job["kind"] == "bootstrap":
        study = ui.set_study(with_bootstrap(study, result, seed=params["seed"]))
        done = len(result.resamples)
        st.success(f"Stopped after {done} of {result.requested} resamples: those are kept and used below."
                   if result.stopped else f"Bootstrap done: {done} resamples.", icon=":material/check_circle:")
    else:
        stopped = job["stop"].is_set() and result.attrs.get("folds_run", 0) < params["folds"] * params["repeats"]
        study = ui.set_study(with_cv(study, result, folds=params["folds"], repeats=params["repeats"],
                                     seed=params["seed"], stopped=stopped))
        st.success(f"Repeated cross-validation {'stopped' if stopped else 'done'}: {result.attrs.get('folds_run')} "
                   f"of {params['folds'] * params['repeats']} folds.", icon=":material/check_circle:")
    return study


def _where(column) -> str | None:
    """The scheduler setting typed (empty: local processes), checked and kept in the session; else a visible
    message and None (nothing runs)."""
    if "val_scheduler" not in st.session_state:  # the widget's state is dropped on leaving the page: restore it
        st.session_state["val_scheduler"] = st.session_state.get(TYPED_KEY, "")
    typed = column.text_input("Dask scheduler (empty: local processes)", key="val_scheduler",
                              placeholder="tcp://HOST:8786",
                              help="Where the resamples run. Empty: one worker process per core of this machine. "
                                   "tcp://HOST:8786: an existing Dask cluster (`dask scheduler`, and `dask worker "
                                   "tcp://HOST:8786 --nthreads 1` on each machine, with this RadNomo version "
                                   "installed). 'serial': in this process. The numbers are the same wherever "
                                   "they run.")
    st.session_state[TYPED_KEY] = typed
    try:
        setting = executor_setting(typed)
    except RadNomoError as error:
        column.error(str(error), icon=":material/error:")
        st.session_state.pop(WHERE_KEY, None)
        return None
    st.session_state[WHERE_KEY] = setting
    column.caption(f"Resamples run on {describe_setting(setting)}.")
    return setting


def _resampling_views(study, run, model_names) -> None:
    """A binary study's bootstrap beyond Harrell's AUC: the .632/.632+ AUC and the optimism-corrected calibration
    (slope, intercept, Brier score; rms::calibrate's curve), computed from the same refits of the whole pipeline.
    Nothing for a run without them (time to event, or saved before they were computed)."""
    summary = resampling_summary(run.optimism, run.calibration, model_names)
    if summary.empty:
        if run.optimism is not None and run.calibration is None and study.spec.outcome.kind in CALIBRATED_KINDS:
            st.caption("This bootstrap run was made before the .632/.632+ AUC and the calibration optimism were "
                       "computed: run it again to add them.")
        return
    st.subheader("Bootstrap discrimination and calibration (whole pipeline refitted)")
    st.caption("Harrell's, .632 and .632+ AUC side by side; the calibration intercept and slope of each model "
               "recalibrated on the original training cohort after fitting on a resample (rms::validate), the "
               "Brier score, and rms::calibrate's optimism-corrected calibration curve, all with the whole "
               "pipeline (screening, LASSO, models) refitted in each resample, where rms refits only the final "
               "model. The apparent slope and intercept are 1 and 0 by construction.")
    shown = summary.copy()
    shown.index = shown.index.map(study.model_label)
    st.dataframe(shown.round(3), key="val_resampling_table")
    ui.csv_download(summary.reset_index(), "bootstrap_632_calibration.csv", label="Table (CSV)",
                    key="val_dl_resampling")
    for note in calibration_optimism_notes(study, run):
        st.caption(note)
    curve = run.calibration_curve
    if curve is not None and len(curve):
        drawn = [m for m in model_names if m in set(curve["model"])]
        figure = corrected_calibration_figure(
            {m: curve[curve["model"] == m] for m in drawn},
            title="Calibration: apparent and bootstrap optimism-corrected (lowess, as rms::calibrate)",
            labels={m: study.model_label(m) for m in drawn}, colours=model_colours(study.model_names))
        st.plotly_chart(figure, key="val_calibration_figure")
        ui.csv_download(curve, "calibration_curve_corrected.csv", label="Corrected calibration curves (CSV)",
                        key="val_dl_calibration_curve")


def _size(column, what: str, value) -> int | None:
    """The typed run size when it is within its limits; else a visible message and None (nothing runs)."""
    try:
        return check_run_size(what, value)
    except RadNomoError as error:
        column.error(str(error), icon=":material/error:")
        return None


st.title("Internal validation")
study = ui.get_study()
# The outcome type's discrimination measures, by their display names (e.g. "AUC", or "C-index" and
# "AUC(t=12 months)"...): every title and caption below names them.
names = measure_names(study.spec.outcome)
measured = measures_text(study.spec.outcome)
st.caption(f"The training {measured} of a model chosen from thousands of features is optimistic. Harrell's "
           "bootstrap repeats the whole pipeline (screening, LASSO-CV, scores, clinical and fused models) on "
           "outcome-stratified resamples of the training cohort and subtracts the average optimism; repeated "
           "cross-validation refits it on folds and scores the held-out patients. Neither touches the test cohort. "
           "The latest run is kept with the study (saved with it and in the report).")
ui.explain("validation")

with ui.guard():
    study = _collect(study)
    models = ui.results(study).models
    predictions = ui.results(study).predictions
    aucs = discrimination_table(study, predictions, models.model_names)
    run = study_validation(study)
    boot = (run.meta.get("bootstrap") or {}) if run is not None else {}
    if boot.get("source"):
        st.info(f"The bootstrap was computed in advance for the sample study with these settings ({boot['done']} "
                f"resamples): `{boot['source']}`. Change a setting and run it again below.", icon=":material/info:")

    st.subheader("Run")
    job = st.session_state.get(JOB_KEY)
    running = job is not None and job["thread"].is_alive()
    where = _where(st)
    left, right = st.columns(2)
    low, high = RUN_LIMITS["bootstrap resamples"]
    n_boot = left.number_input(f"Bootstrap resamples ({low}-{high})", value=200, step=10, key="val_n_boot",
                               help="Harrell recommends at least 200. Each resample refits the whole pipeline: "
                                    "about 8 s of one core for the full sample study (200 resamples: about "
                                    "half an hour on one core, less with more workers), a second or two for "
                                    "small studies. A run can be stopped; the resamples done are kept.")
    seed = left.number_input("Seed", 0, 2**31 - 1, 0, key="val_seed")
    n_boot = _size(left, "bootstrap resamples", n_boot)
    if left.button("Run the bootstrap", key="val_run_boot", icon=":material/play_arrow:",
                   disabled=n_boot is None or where is None or running):
        _start("bootstrap", study, lambda progress, stop, study=study, n=n_boot, s=int(seed), w=where:
               optimism_corrected_auc(study, n_boot=n, seed=s, on_progress=progress, should_stop=stop, where=w),
               {"n_boot": n_boot, "seed": int(seed), "where": where})
        running = True
    low, high = RUN_LIMITS["CV folds"]
    folds = right.number_input(f"CV folds ({low}-{high})", value=5, step=1, key="val_folds")
    low, high = RUN_LIMITS["CV repeats"]
    repeats = right.number_input(f"Repeats ({low}-{high})", value=2, step=1, key="val_repeats")
    folds, repeats = _size(right, "CV folds", folds), _size(right, "CV repeats", repeats)
    if right.button("Run repeated cross-validation", key="val_run_cv", icon=":material/play_arrow:",
                    disabled=folds is None or repeats is None or where is None or running):
        _start("cross-validation", study, lambda progress, stop, study=study, k=folds, r=repeats, s=int(seed),
               w=where: repeated_cv_auc(study, n_folds=k, n_repeats=r, seed=s, on_progress=progress,
                                        should_stop=stop, where=w),
               {"folds": folds, "repeats": repeats, "seed": int(seed), "where": where})
        running = True

    @st.fragment(run_every=POLL_S)
    def progress_panel() -> None:
        """While a run goes on: its progress and Stop (this part alone is redrawn); when it ends, the whole page."""
        job = st.session_state.get(JOB_KEY)
        if job is None:
            return
        if not job["thread"].is_alive():
            st.rerun()
        done, total, seconds_left = job["progress"]
        unit = "resample" if job["kind"] == "bootstrap" else "fold"
        if job["stop"].is_set():
            status = " - stopping..."
        elif seconds_left is not None and done < total:
            status = f", about {time_left(seconds_left)} left"
        elif not done:
            status = f" - starting on {describe_setting(job['params']['where'])}..."
        else:
            status = ""
        st.progress(min(done / max(total, 1), 1.0),
                    text=f"{job['kind'].capitalize()}: {done} / {total} {unit}s{status}")
        if st.button("Stop", key="val_stop", icon=":material/stop:", disabled=job["stop"].is_set(),
                     help=f"Ends the run: the {unit}s still running are cancelled, the {unit}s done are kept."):
            job["stop"].set()

    if running:
        progress_panel()

    st.subheader(f"Apparent, optimism-corrected, cross-validated and test {measured}")
    table = validation_table(aucs, models.model_names, run.optimism if run else None, run.cv if run else None)
    table.index = table.index.map(study.model_label)
    if MEASURE in table.columns:  # one row per model and measure (time to event): the measures' display names
        table[MEASURE] = table[MEASURE].map(lambda label: names.get(label, label))
    st.dataframe(table.round(3), key="val_table")
    ui.csv_download(table.reset_index(names="model"), "internal_validation.csv", label="Table (CSV)",
                    key="val_dl_table")
    if run is not None:
        for note in validation_notes(study, run):
            st.caption(note)
    if run is None or run.optimism is None:
        st.caption(f"Run the bootstrap to add the optimism-corrected {measured}.")
    else:
        runs = run.runs
        figure = go.Figure()
        drawn = [m for m in models.model_names if m in set(runs["model"])]
        if MEASURE not in runs.columns:  # one measure (the binary AUC): one box per model
            for model in drawn:
                rows = runs[runs["model"] == model]
                figure.add_trace(go.Box(y=rows["optimism"], name=study.model_label(model),
                                        boxmean=True))
            figure.update_layout(title="Optimism per resample (AUC on the resample - AUC on the training cohort)",
                                 yaxis_title="optimism", showlegend=False, height=380)
        else:  # one box per model and measure: the measures along the axis, the models side by side in each
            for model in drawn:
                rows = runs[runs["model"] == model]
                figure.add_trace(go.Box(x=rows[MEASURE].map(lambda label: names.get(label, label)),
                                        y=rows["optimism"], name=study.model_label(model), boxmean=True))
            figure.update_layout(title="Optimism per resample (the measure on the resample - on the training "
                                       "cohort)", yaxis_title="optimism", xaxis_title="measure", boxmode="group",
                                 showlegend=True, height=420)
        st.plotly_chart(figure, key="val_optimism_figure")
        ui.csv_download(runs, "optimism_runs.csv", label="Every resample (CSV)", key="val_dl_runs")
        if run.resamples is not None:
            ui.csv_download(run.resamples.reset_index(), "resamples.csv",
                            label="Features kept per resample (CSV)", key="val_dl_resamples")
        _resampling_views(study, run, models.model_names)
