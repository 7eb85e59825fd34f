"""RadNomo: the dashboard's entry point (page config, navigation, shared sidebar).

Run with ``streamlit run app.py``; it opens on the bundled synthetic sample study.
"""

from __future__ import annotations

import logging

import streamlit as st

import ui

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

navigation = st.navigation(PAGES, expanded=True)
ui.finish_app_setup()
ui.clean_up_spaces()  # at a server's first run, then once a day: spaces unused for RADNOMO_SPACE_MAX_AGE_DAYS go
with ui.guard():
    ui.study_sidebar()
    with st.sidebar:
        ui.remember_space()  # this browser's space token in its cookie; a ?space= link is dropped, never honoured
navigation.run()
# After the page, not before: on a cold server the solver's warm-up would compete with the first page for the CPU.
ui.warm_up()
