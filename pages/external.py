"""External validation and subgroups: the frozen models on other cohorts and on subgroups, side by side.

The body depends on the study's outcome kind (PAGE_BODIES): a binary study's panel (AUC, Table 2 metrics,
calibration, ROC / calibration / decision curves), or a time-to-event study's (Harrell's and Uno's C, AUC(t) at
each horizon, Kaplan-Meier risk groups at the TRAINING cut-offs, calibration at the horizons), each computed by
core.workflows.external and drawn by core.figures. Adding an external cohort, its patients and features outside the
training range and the ComBat comparison are the same for every kind.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

import ui
from core.errors import RadNomoError, listed
from core.figures.charts import calibration_figure, decision_curve_figure, roc_figure
from core.figures.palette import cohort_colours, model_colours
from core.figures.survival import kaplan_meier_figure, survival_calibration_figure, td_auc_figure
from core.io.paths import data_root, resolve_in_root
from core.io.tables import read_any_table
from core.stats.evaluation import interval_text
from core.stats.summaries import batch_columns
from core.vocabulary import (CALIBRATION_SUBSETS, COHORTS, CONCORDANCE_WEIGHTINGS, DISCRIMINATION_MEASURES,
                             OUTCOME_KINDS, OUTSIDE_RANGE, RISK_GROUPS, SURVIVAL_CALIBRATION_COLUMNS, format_interval,
                             format_number, format_p, horizon_text)
from core.workflows.evaluation import DECISION_RESAMPLES, evaluate_cohorts
from core.workflows.external import (OUT_OF_RANGE_SHARE, OUTSIDE_MARGIN_SD, calibration_with_and_without,
                                     cohort_aucs, cohort_concordance, cohort_panel, evaluate_survival_panel,
                                     level_groups, outside_range_patients, panel_notes, pooled_predictions,
                                     range_report, read_sample_external, study_cohorts, subgroup_columns,
                                     validate_external)
from core.workflows.sample import SAMPLE_EXTERNAL_DIR
from core.workflows.study import Study

ui.enter_page("pages/external.py")

EXTERNAL_KEY = "ext_cohorts"  # (the study's data fingerprint, {name: ExternalCohort})
PANEL_KEY = "_ext_s_panels"  # the latest time-to-event evaluations, by what they were computed from (_evaluated)
PANELS_KEPT = 4


def _add_cohort(study: Study, models, externals: dict) -> None:
    """The "Add an external cohort" section: an external cohort read, checked (validate_external) and kept."""
    spec = study.spec
    families = sorted({m for score in models.scores for m in models.members[score]}, key=study.family_names.index)

    st.subheader("Add an external cohort")
    source = st.radio("From", ["Upload files", "Files inside the data root"], horizontal=True, key="ext_source")
    name = st.text_input("Name", value=f"External {len(externals) + 1}", key="ext_name")
    tables: dict = {}
    clinical = None
    if study.is_sample and SAMPLE_EXTERNAL_DIR.is_dir() and st.button(
            "Add the sample's external centre", key="ext_add_sample",
            help="A second synthetic centre: another seed and scanner mix, its features extracted with the "
                 "sample study's pyradiomics settings and autoencoder."):
        name = "External centre"
        clinical, tables = read_sample_external(spec.outcome)
    if source == "Upload files":
        clinical_file = st.file_uploader("Clinical table (CSV/TSV/XLSX)", key="ext_clinical_upload")
        files = {f: st.file_uploader(f"{study.family_label(f)} features (Parquet, CSV or XLSX)",
                                     key=f"ext_{f}_upload") for f in families}
        if clinical_file is not None and st.button("Add cohort", key="ext_add_upload"):
            clinical = read_any_table(clinical_file.getvalue(), clinical_file.name)
            tables = {f: read_any_table(u.getvalue(), u.name) for f, u in files.items() if u is not None}
    else:
        root = data_root()
        clinical_path = st.text_input(f"Clinical table path inside {root}", key="ext_clinical_path")
        paths = {f: st.text_input(f"{study.family_label(f)} features path inside {root}", key=f"ext_{f}_path")
                 for f in families}
        if clinical_path and st.button("Add cohort", key="ext_add_server"):
            path = resolve_in_root(clinical_path, root)
            clinical = read_any_table(path.read_bytes(), path.name)
            for family, value in paths.items():
                if value:
                    path = resolve_in_root(value, root)
                    tables[family] = read_any_table(path.read_bytes(), path.name)
    if clinical is not None:
        external = validate_external(study, name, clinical, tables, models)
        externals[external.name] = external
        if "ext_figure_groups" in st.session_state:  # a cohort just added is drawn, not only tabulated
            st.session_state["ext_figure_groups"] = list(dict.fromkeys([*st.session_state["ext_figure_groups"],
                                                                        external.name]))
        st.success(f"Added {external.name}: {len(external.cohort)} patients, "
                   f"{external.n_events(spec.outcome)} events." + "".join(f" {n}" for n in external.notes))



def _outside(study: Study, models, externals: dict, all_predictions: pd.DataFrame, groups: dict) -> dict:
    """Each external cohort's patients far outside the training range (or with a predicted probability within
    1e-6 of 0 or 1), listed under a warning: cohort name -> their keys (as in ``groups``)."""
    outside = {}
    for external in externals.values():
        scored = all_predictions.loc[groups[external.name]].set_axis(list(external.cohort.index), axis=0)
        listed_ = outside_range_patients(study, models, external, scored)
        outside[external.name] = [f"{external.name}:{i}" for i in listed_.index]
        if len(listed_):
            st.warning(f"{external.name}: {len(listed_)} patient(s) {OUTSIDE_RANGE} (a feature the scores use more "
                       f"than {OUTSIDE_MARGIN_SD:g} training SD beyond the training minimum or maximum, or a predicted "
                       "risk within 1e-6 of 0 or 1): the models extrapolate for them. Calibration is shown with and "
                       "without them.")
            st.dataframe(listed_[["reason", "features", "extreme_risk"]], key=f"ext_outside_{external.name}")
    return outside


def _range_reports(study: Study, models, externals: dict) -> None:
    """Per external cohort, in an expander: the features the models use and their share outside the training range."""
    for external in externals.values():
        with st.expander(f"{external.name}: features outside the training range"):
            report = range_report(study, models, external)
            flagged = int(report["flag"].sum()) if len(report) else 0
            if flagged:
                st.warning(f"{flagged} of the {len(report)} features the models use have more than "
                           f"{OUT_OF_RANGE_SHARE:.0%} of this cohort's patients outside the training range: "
                           "predictions extrapolate there.")
            st.dataframe(report.round(3), key=f"ext_range_{external.name}")


def binary_body(study: Study, models, predictions: pd.DataFrame, externals: dict) -> None:
    """A binary study's panel: AUC, Table 2 metrics at the training cut-offs and calibration of every cohort and
    subgroup, then the ROC, calibration and decision curves of the chosen model on the chosen cohorts."""
    available = models.model_names
    labels = study.model_labels()
    # The study's cut-off rule and CI method (chosen on Evaluation, saved with the study, used by the report).
    cutoffs = ui.results(study).evaluation.cutoffs
    # -----------------------------------------------------------------------------------------
    all_predictions, all_outcome, groups = pooled_predictions(study, models, predictions, list(externals.values()))
    by = st.multiselect("Subgroups of the test cohort by" if study.has_test else "Subgroups of the training cohort by",
                        subgroup_columns(study), default=[], key="ext_subgroups", format_func=study.label)
    evaluated = study.test_ids if study.has_test else study.train_ids
    prefix = "test" if study.has_test else "train"
    for column in by:
        groups.update({f"{prefix}, {k}": v for k, v in level_groups(study, column, evaluated).items()})
    colours = cohort_colours(list(groups))

    st.subheader("All cohorts side by side")
    panel = cohort_panel(all_predictions, all_outcome, groups, cutoffs, ci=study.evaluation.proportion_ci)
    shown = panel[["group", "model", "n", "events"]].assign(model=panel["model"].map(labels))
    shown = shown.join(interval_text(panel))
    shown[["Brier", "calibration-in-the-large", "calibration slope"]] = panel[["brier", "cal_in_the_large",
                                                                              "cal_slope"]]
    st.dataframe(shown.round(3), hide_index=True, key="ext_panel")
    for note in panel_notes(panel, labels):
        st.caption(note)
    ui.csv_download(panel, "cohort_panel.csv", label="Panel (CSV)", key="ext_dl_panel")

    # Patients far outside the training range (or with a risk of 0 or 1) extrapolate and can alone drag an
    # external calibration slope towards 0: listed, and the calibration shown again without them.
    outside = _outside(study, models, externals, all_predictions, groups)
    if any(outside.values()):
        calibration = calibration_with_and_without(all_predictions, all_outcome, groups,
                                                   {g: ids for g, ids in outside.items() if ids}, available)
        st.markdown(f"**External calibration with and without the patients {OUTSIDE_RANGE}**")
        st.dataframe(calibration.assign(model=calibration["model"].map(labels)).rename(
            columns={"cal_in_the_large": "calibration-in-the-large", "cal_slope": "calibration slope",
                     "brier": "Brier", "n_outside": "n outside"}).round(3),
                     hide_index=True, key="ext_calibration_outside")
        offered = st.session_state.setdefault("_ext_without_offered", set())
        for name, ids in outside.items():  # the cohort without them is a group of the figures too
            if ids:
                without = f"{name} ({CALIBRATION_SUBSETS['within'].lower()})"
                groups[without] = [i for i in groups[name] if i not in set(ids)]
                drawn_now = st.session_state.get("ext_figure_groups", [])
                if without not in offered and name in drawn_now:  # drawn beside the cohort when first offered
                    st.session_state["ext_figure_groups"] = [*drawn_now, without]
                offered.add(without)
        colours = cohort_colours(list(groups))

    model = st.selectbox("Model for the figures", available, index=len(available) - 1, key="ext_model",
                         format_func=labels.get)
    figure_groups = st.multiselect("Cohorts in the figures", list(groups), default=list(groups)[:4],
                                   key="ext_figure_groups")
    # The chosen model on the chosen cohorts, evaluated as the study's own cohorts are (the same function): each
    # group holds the patients with a prediction of this model, and a group with one outcome only is not drawn.
    drawn = evaluate_cohorts(all_predictions, all_outcome, {g: groups[g] for g in figure_groups}, [model], cutoffs,
                             ci=study.evaluation.proportion_ci, seed=study.split.config.seed)
    aucs = {g: drawn.intervals(g)[model] for g in figure_groups if drawn.evaluated(g, model)}
    group_labels = {g: g for g in groups}
    left, middle, right = st.columns(3)
    left.plotly_chart(roc_figure(drawn.curves_across("roc", model, figure_groups), aucs, title="ROC",
                                 labels=group_labels, colours=colours), key="ext_roc")
    middle.plotly_chart(calibration_figure(drawn.curves_across("calibration_bins", model, figure_groups),
                                           drawn.curves_across("calibration_smooth", model, figure_groups),
                                           title="Calibration (loess, 95 % band)", labels=group_labels,
                                           colours=colours,
                                           flexible=drawn.curves_across("calibration_flexible", model, figure_groups)),
                        key="ext_calibration")
    right.plotly_chart(decision_curve_figure(drawn.curves_across("decision", model, figure_groups),
                                             title="Decision curves (95 % bands)", labels=group_labels,
                                             colours=colours, bands=True),
                       key="ext_dca")

    st.markdown(f"**Calibration of the {labels[model]} in each cohort**")
    ui.calibration_statistics(drawn.calibration, labels, key="ext_cal_table")
    st.markdown(f"**Decision analysis of the {labels[model]} in each cohort**")
    ui.decision_views({"every": drawn.curves_across("decision", model, figure_groups)}, group_labels, colours,
                      key="ext_dca_views", titles={"every": "Every cohort"}, n_boot=DECISION_RESAMPLES,
                      seed=drawn.seed)
    downloads = st.columns(2)
    with downloads[0]:
        ui.csv_download(drawn.calibration, "external_calibration.csv", label="Calibration statistics (CSV)",
                        key="ext_dl_cal")
    with downloads[1]:
        ui.csv_download(drawn.decision.drop(columns="treat_none"), "external_decision_curve.csv",
                        label="Decision curves with bands (CSV)", key="ext_dl_dca")

    st.subheader("Comparing two models in every cohort")
    ui.model_comparison(all_predictions, all_outcome, {g: list(groups[g]) for g in figure_groups}, list(available),
                        labels, model_colours(available), key="ext_compare", seed=study.split.config.seed,
                        main=models.main_model, group_names=lambda g: COHORTS.get(g, g))


    _range_reports(study, models, externals)


#: Outcome kind -> how the ComBat comparison measures each model in each cohort: (function of (models, cohorts,
#: outcome), its value column, the measure in words, the CSV's name).
COMBAT_MEASURES: dict[str, tuple[Callable, str, str, str]] = {
    "binary": (cohort_aucs, "auc", "AUCs", "auc_with_without_combat.csv"),
    "survival": (cohort_concordance, "c_index", "C-indices (Harrell's C)", "c_index_with_without_combat.csv")}


def _combat_section(study: Study, models, externals: dict) -> None:
    """Every cohort's discrimination by the models fitted on the features as extracted and on ComBat-harmonised
    features (two fits of the whole study, on request)."""
    spec = study.spec
    labels = study.model_labels()
    measure, value, what, file_name = COMBAT_MEASURES[spec.outcome.kind]
    st.subheader("Scanner harmonisation (ComBat)")
    combat_columns = batch_columns(study.train, exclude=[*spec.outcome.columns, *spec.continuous])
    if not externals or not combat_columns or not study.families:
        st.caption(f"Add an external cohort to compare its {what} with and without ComBat harmonisation "
                   "(needs a scanner or centre column with at least two levels in training).")
    elif st.toggle("Compare with and without ComBat", key="ext_compare_combat",
                   help="Fits the whole study twice on the training cohort, once on the features as extracted "
                        "and once on ComBat-harmonised features, and scores every cohort with each."):
        column = st.selectbox("Harmonise by", combat_columns, key="ext_combat_by",
                              index=combat_columns.index("scanner") if "scanner" in combat_columns else 0)
        cohorts = {**study_cohorts(study), **{e.name: (e.cohort, e.tables) for e in externals.values()}}
        frames = []
        for label, harmonise_by in (("as extracted", None), (f"ComBat by {column}", column)):
            variant = study.with_settings(harmonise_by=harmonise_by)
            variant_models = ui.results(variant).models
            frames.append(measure(variant_models, cohorts, spec.outcome).assign(features=label))
            for note in variant_models.notes:  # e.g. a family covering only some patients, fitted on those
                if harmonise_by is not None and note not in models.notes:
                    st.caption(f"{label}: {note}")
        comparison = pd.concat(frames, ignore_index=True)
        wide = comparison.pivot_table(index=["cohort", "model"], columns="features", values=value, sort=False)
        wide.index = wide.index.set_levels(wide.index.levels[1].map(lambda m: labels.get(m, m)), level=1)
        st.dataframe(wide.round(3), key="ext_combat_table")
        ui.csv_download(comparison, file_name, label=f"{what} with and without ComBat (CSV)", key="ext_dl_combat")


def _evaluated(study: Study, models, predictions: pd.DataFrame, externals: dict, groups: dict, **options):
    """:func:`core.workflows.external.evaluate_survival_panel`, kept in the session for the same study, cohorts,
    groups and options: a widget that changes only the figures (horizon, cohorts drawn) redraws them without
    evaluating every cohort again."""
    key = (study.model_fingerprint, id(models), tuple(externals.values()),
           tuple((name, tuple(ids)) for name, ids in groups.items()),
           tuple((name, tuple(value) if isinstance(value, list) else value) for name, value in sorted(options.items())))
    kept: dict = st.session_state.setdefault(PANEL_KEY, {})
    if key not in kept:
        kept[key] = evaluate_survival_panel(study, models, predictions, list(externals.values()), groups, **options)
        while len(kept) > PANELS_KEPT:
            kept.pop(next(iter(kept)))
    return kept[key]


def survival_body(study: Study, models, predictions: pd.DataFrame, externals: dict) -> None:
    """A time-to-event study's panel: Harrell's and Uno's C, AUC(t) at each horizon, risk groups at the training
    cut-offs and calibration at the horizons of every cohort and subgroup (core.workflows.external
    .evaluate_survival_panel), then the chosen model's AUC(t), Kaplan-Meier and calibration figures on the chosen
    cohorts."""
    outcome = study.spec.outcome
    unit = outcome.time_unit
    available = models.model_names
    labels = study.model_labels()
    all_predictions, _, groups = pooled_predictions(study, models, predictions, list(externals.values()))
    by = st.multiselect("Subgroups of the test cohort by" if study.has_test else "Subgroups of the training cohort by",
                        subgroup_columns(study), default=[], key="ext_subgroups", format_func=study.label)
    evaluated = study.test_ids if study.has_test else study.train_ids
    prefix = "test" if study.has_test else "train"
    extra: dict[str, list[str]] = {}
    for column in by:
        extra.update({f"{prefix}, {k}": v for k, v in level_groups(study, column, evaluated).items()})
    # Patients far outside the training range (or with a predicted survival of 0 or 1) extrapolate: listed, and
    # each such cohort evaluated again without them (one more group of the panel and the figures).
    outside = _outside(study, models, externals, all_predictions, groups)
    for name, ids in outside.items():
        if ids:
            extra[f"{name} ({CALIBRATION_SUBSETS['within'].lower()})"] = [i for i in groups[name] if i not in set(ids)]
    panel = _evaluated(study, models, predictions, externals, extra)
    names = list(panel.cohorts)
    shown_names = {c: COHORTS.get(c, c) for c in names}
    colours = cohort_colours(names)
    model_labels = {m: labels.get(m, m) for m in available}
    if panel.notes:
        with st.expander(f"What the evaluation left out or flags ({len(panel.notes)} note(s))",
                         expanded=len(panel.notes) <= 5, icon=":material/info:"):
            for note in panel.notes:
                st.caption(note)

    st.subheader("All cohorts side by side")
    st.caption(f"Harrell's C over every comparable pair, Uno's C weighted by the censoring up to "
               f"{horizon_text(panel.horizons[-1])} {unit}, and the time-dependent AUC at each horizon (cases: the "
               "event by t; controls: event-free after t), with 95% CIs. 0.5 = chance.")
    concordance, td_auc = panel.concordance, panel.td_auc
    shown = pd.DataFrame({"cohort": concordance["cohort"].map(shown_names),
                          "model": concordance["model"].map(model_labels),
                          "n": concordance["n"], "events": concordance["events"],
                          CONCORDANCE_WEIGHTINGS["n"]: [format_interval(r.c_index, r.c_low, r.c_high)
                                                        for r in concordance.itertuples()],
                          CONCORDANCE_WEIGHTINGS["n/G2"]: [format_interval(r.uno_c, r.uno_low, r.uno_high)
                                                           for r in concordance.itertuples()]})
    keys = concordance[["cohort", "model"]]
    for horizon in panel.horizons:
        rows = keys.merge(td_auc[td_auc["horizon"] == float(horizon)], on=["cohort", "model"], how="left")
        measure = DISCRIMINATION_MEASURES["td_auc"].format(horizon=outcome.horizon_label(horizon))
        shown[measure] = [format_interval(r.auc, r.auc_low, r.auc_high) for r in rows.itertuples()]
    shown["left out"] = concordance["left_out"].to_numpy()
    st.dataframe(shown, hide_index=True, key="ext_s_panel")
    ui.csv_download(concordance, "concordance_cohorts.csv", label="Concordance (CSV)", key="ext_s_dl_concordance")
    ui.csv_download(td_auc, "td_auc_cohorts.csv", label="AUC(t) (CSV)", key="ext_s_dl_td_auc")

    st.markdown("**Risk groups at the training cut-off**")
    st.caption("High risk = linear predictor above the model's cut-off, the median over the TRAINING patients, "
               "applied unchanged to every cohort: log-rank test, and the Cox hazard ratio of high vs low risk.")
    risk = panel.risk_groups
    st.dataframe(pd.DataFrame({
        "cohort": risk["cohort"].map(shown_names), "model": risk["model"].map(model_labels),
        "risk group": risk["group"].map(RISK_GROUPS), "n": risk["n"], "events": risk["events"],
        "cut-off (linear predictor)": risk["cutoff"].map(format_number),
        "HR high vs low (95% CI)": [format_interval(r.hr, r.hr_low, r.hr_high, 2) for r in risk.itertuples()],
        "log-rank p": risk["logrank_p"].map(format_p)}), hide_index=True, key="ext_s_risk_groups")
    ui.csv_download(risk, "risk_groups_cohorts.csv", label="Risk groups (CSV)", key="ext_s_dl_risk_groups")

    st.markdown("**Calibration at each horizon**")
    slope = panel.calibration_slope
    st.dataframe(pd.DataFrame({
        "cohort": slope["cohort"].map(shown_names), "model": slope["model"].map(model_labels),
        f"horizon ({unit})": slope["horizon"].map(horizon_text),
        SURVIVAL_CALIBRATION_COLUMNS["slope"]: [format_interval(r.slope, r.slope_low, r.slope_high)
                                                for r in slope.itertuples()],
        SURVIVAL_CALIBRATION_COLUMNS["observed_expected"]: [format_interval(r.observed_expected, r.oe_low, r.oe_high)
                                                            for r in slope.itertuples()]}),
        hide_index=True, key="ext_s_calibration")
    ui.csv_download(slope, "calibration_cohorts.csv", label="Calibration (CSV)", key="ext_s_dl_calibration")

    model = st.selectbox("Model for the figures", available, index=len(available) - 1, key="ext_model",
                         format_func=labels.get)
    figure_groups = st.multiselect("Cohorts in the figures", names, default=names[:4], key="ext_figure_groups",
                                   format_func=shown_names.get)
    horizon = st.radio(f"Horizon of the calibration ({unit})", list(panel.horizons), horizontal=True,
                       key="ext_s_horizon", format_func=horizon_text)
    if not figure_groups:
        return
    # The chosen model on the chosen cohorts, with the curves (at the same training cut-off).
    drawn = _evaluated(study, models, predictions, externals, extra, cohorts=list(figure_groups),
                       model_names=[model], curves=True)
    by_cohort = drawn.td_auc.drop(columns="model").rename(columns={"cohort": "model"})
    st.plotly_chart(td_auc_figure(by_cohort, unit, labels=shown_names, colours=colours,
                                  title=f"Time-dependent AUC: {labels.get(model, model)}"), key="ext_s_td_auc")
    at = f"{horizon_text(horizon)} {unit}"
    calibration = ui.rows_where(drawn.calibration, horizon=float(horizon))
    groups_drawn = {c: calibration[calibration["cohort"] == c] for c in figure_groups
                    if (calibration["cohort"] == c).any()}
    if groups_drawn:
        st.plotly_chart(survival_calibration_figure(groups_drawn, horizon=horizon, time_unit=unit, labels=shown_names,
                                                    colours=colours, title=f"Calibration at {at}: "
                                                                           f"{labels.get(model, model)}"),
                        key="ext_s_calibration_figure")
    else:
        st.caption(f"No calibration of this model at {at} in the chosen cohorts (see the notes above).")
    columns = st.columns(min(len(figure_groups), 4))
    for index, cohort in enumerate(figure_groups):
        column = columns[index % len(columns)]
        curves = drawn.km_curves(cohort, model)
        rows = ui.rows_where(drawn.risk_groups, cohort=cohort, model=model)
        if not curves or rows.empty:
            column.caption(f"{shown_names[cohort]}: no risk-group curves for this model (see the notes above).")
            continue
        first = rows.iloc[0]
        column.plotly_chart(kaplan_meier_figure({RISK_GROUPS[g]: c for g, c in curves.items()},
                                                title=f"{shown_names[cohort]}: {labels.get(model, model)}",
                                                time_unit=unit, y_title="event-free probability",
                                                log_rank_p=None if np.isnan(first["logrank_p"])
                                                else float(first["logrank_p"])),
                            key=f"ext_s_km_{index}")
    _range_reports(study, models, externals)


#: Outcome kind (core.vocabulary.OUTCOME_KINDS) -> the page's body for a study of that kind: (study, models,
#: predictions, externals) -> None. A new kind adds its body here.
PAGE_BODIES: dict[str, Callable[..., None]] = {"binary": binary_body, "survival": survival_body}


def _page_body(study: Study) -> Callable[..., None]:
    """The body for the study's outcome kind; a RadNomoError (shown by ui.guard) for a kind without one."""
    kind = study.spec.outcome.kind
    if kind not in PAGE_BODIES:
        raise RadNomoError(f"the External validation page has no view of a '{OUTCOME_KINDS.get(kind, kind)}' outcome "
                           f"yet; it shows {listed(OUTCOME_KINDS[k] for k in PAGE_BODIES)} outcomes.")
    return PAGE_BODIES[kind]


st.title("External validation and subgroups")
st.caption("Nothing is refitted here: the training cohort's models and cut-offs score every other cohort. Add "
           "external cohorts (a clinical table with the study's columns and a feature table per family) and compare "
           "them with the training and test cohorts and with subgroups, in one panel.")
ui.explain("external")
study = ui.get_study()
stored = st.session_state.get(EXTERNAL_KEY)
if stored is None or stored[0] != study.data_fingerprint:  # another study's cohorts are not this one's
    stored = (study.data_fingerprint, {})
    st.session_state[EXTERNAL_KEY] = stored
externals: dict = stored[1]

with ui.guard():
    body = _page_body(study)
    models = ui.results(study).models
    predictions = ui.results(study).predictions
    _add_cohort(study, models, externals)
    body(study, models, predictions, externals)
    _combat_section(study, models, externals)
