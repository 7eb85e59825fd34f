"""RadNomo: the dashboard's entry point (page config, navigation, shared sidebar).

Run with ``streamlit run app.py``; it opens on the bundled synthetic sample study.
"""

from __future__ import annotations

import logging

import streamlit as st

import ui
from core.io.paths import workspace_dir
from core.io.spaces import clean_up_spaces_daily
from core.workflows.results import warm_up_solver

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

# An emoji icon is drawn by the browser itself; a :material: page icon is fetched from fonts.gstatic.com (offline:
# a console error on every rerun).
st.set_page_config(page_title="RadNomo", page_icon="🩻", layout="wide")

# Grouped as a study is made and used, so every page stays in view (no "View more" fold).
PAGES = {
    "Study": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/cohort.py", title="Cohort", icon=":material/groups:"),
        st.Page("pages/features_radiomics.py", title="Features - radiomics", icon=":material/biotech:"),
        st.Page("pages/features_deep.py", title="Features - deep", icon=":material/neurology:"),
    ],
    "Models": [
        st.Page("pages/selection.py", title="Selection", icon=":material/filter_alt:"),
        st.Page("pages/models.py", title="Models", icon=":material/functions:"),
    ],
    "Validation": [
        st.Page("pages/evaluation.py", title="Evaluation", icon=":material/monitoring:"),
        st.Page("pages/validation.py", title="Internal validation", icon=":material/replay:"),
        st.Page("pages/external.py", title="External validation", icon=":material/compare_arrows:"),
        st.Page("pages/subgroups.py", title="Subgroups", icon=":material/call_split:"),
        st.Page("pages/checklists.py", title="Checklists", icon=":material/checklist:"),
    ],
    "Use": [
        st.Page("pages/nomogram.py", title="Nomogram", icon=":material/calculate:"),
        st.Page("pages/new_patient.py", title="New patient", icon=":material/person_add:"),
    ],
    "Learn": [
        st.Page("pages/walkthrough.py", title="Guided tour", icon=":material/tour:"),
        st.Page("pages/teaching.py", title="Teaching", icon=":material/school:"),
    ],
}


def study_sidebar() -> None:
    """The sidebar's summary of the open study and the teaching toggle (shown on every page)."""
    study = ui.get_study()
    with st.sidebar:
        st.session_state[ui.TEACHING_KEY] = st.toggle(
            "Teaching mode", value=bool(st.session_state.get(ui.TEACHING_KEY, False)), key="teaching_toggle",
            help="Adds a short explanation of what each page shows and how to read it, with a reference.")
        st.caption("Open study")
        st.markdown(f"**{study.name}**")
        design = (f"train {len(study.split.train_ids)} / test {len(study.split.test_ids)}" if study.has_test
                  else f"all {len(study.split.train_ids)} train (no test cohort)")
        st.markdown(f"{len(study.cohort)} patients · {study.n_events} events · {design}")
        families = ", ".join(study.family_label(f) for f in study.score_families) or "clinical variables only"
        st.caption(f"Features: {families}")
        if study.is_sample:
            st.caption("Synthetic data made by RadNomo's generator; not patient data.")


navigation = st.navigation(PAGES, expanded=True)
ui.finish_app_setup()
clean_up_spaces_daily(workspace_dir())  # first run, then daily: unused spaces go (RADNOMO_SPACE_MAX_AGE_DAYS)
with ui.guard():
    study_sidebar()
    with st.sidebar:
        ui.remember_space()  # this browser's space token in its cookie; a ?space= link is dropped, never honoured
        ui.preload_figures()  # the figure module fetched while the first page is read
with ui.page_run():  # counted: the sample's warm-up waits for pages being drawn
    navigation.run()
# After the page, not before: on a cold server the warm-ups would compete with the first page for the CPU.
ui.after_this_run(warm_up_solver)
if st.context.headers:  # a browser is connected (not AppTest, whose pages compute what they show themselves)
    with ui.guard():
        ui.warm_up_sample(ui.get_study())  # the sample's next pages computed while its visitor reads this one
