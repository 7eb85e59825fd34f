"""Checklists: the paper's reporting checklists filled from the open study's run (TRIPOD+AI, CLEAR, METRICS with its
score, PROBAST+AI as a self-assessment), the participant flow and the drafted Methods, each downloadable."""

from __future__ import annotations

import streamlit as st

import ui
from core.figures.flow import flow_diagram
from core.workflows.checklist_items import CHECKLISTS, checklist_items
from core.workflows.participant_flow import participant_flow
from core.workflows.persistence import MAX_AUTHOR_NOTE, study_folder_name
from core.workflows.report import methods_text, study_facts
from core.workflows.study_checklists import (BY_AUTHOR, CHECKLIST_ANSWERS, CHECKLIST_COLUMNS, author_key,
                                             probast_assessment, study_checklist, study_metrics)

ui.enter_page("pages/checklists.py")

st.title("Checklists")
st.caption("What journals and reviewers ask of a radiomics prediction-model paper, answered from what this study ran: "
           "each item says whether the run reports it (and where in the report), partly, not done, or that it is "
           "for you to write (ethics, funding, the discussion ...). Item wording is RadNomo's own summary; the "
           "numbers are the checklists' (sources in the README).")
ui.explain("checklists")
study = ui.get_study()
prefix = study_folder_name(study.name)


def _author_answers(key: str, table) -> None:
    """Your own answer to an item the run cannot know, saved with the study (and in its export)."""
    open_items = table[table["status"].isin([BY_AUTHOR, "for the author"])]
    if open_items.empty:
        return
    with st.expander(f"Your answers to the {len(open_items)} items the run cannot know"):
        choice = st.selectbox("Item", list(open_items["item"]), key=f"cl_author_item_{key}",
                              format_func=lambda n: f"{n}: {open_items.set_index('item').loc[n, 'text']}")
        note_key = author_key(key, choice)
        text = st.text_area("Your text (as it will read in the checklist)", study.author_notes.get(note_key, ""),
                            key=f"cl_author_text_{key}_{choice}", max_chars=MAX_AUTHOR_NOTE)
        if st.button("Save with the study", key=f"cl_author_save_{key}"):
            notes = {k: v for k, v in study.author_notes.items() if k != note_key}
            if text.strip():
                notes[note_key] = text.strip()
            ui.set_study(study.replace(author_notes=notes), f"Your answer to {names[key]} {choice} is saved with "
                                                            "the study.", rerun=True)


with ui.guard():
    results = ui.results(study)
    externals = ui.study_externals(study)
    facts = study_facts(results, externals)

    # -----------------------------------------------------------------------------------------
    score = study_metrics(facts)
    items = {item.number: item for item in checklist_items("metrics")}
    top = st.container(horizontal=True, wrap=True, gap="large", key="cl_score")
    top.metric("METRICS score", f"{score.score:.1f} %", width="content",
               help="Kocak et al. 2024: the weights of the items met over the weights of the items that apply to "
                    "this study (its segmentation, hand-crafted and tabular features).")
    top.metric("Quality band", score.band, width="content")
    top.metric("Items that apply", f"{len(score.applicable)} of {len(items)}", width="content")
    if score.lost:
        st.markdown("**What would earn the missing points** (largest first)")
        st.markdown("\n".join(f"- METRICS {number} ({points:.1f} points): {items[number].text}"
                              for number, points in score.lost[:6]))

    # -----------------------------------------------------------------------------------------
    st.subheader("The checklists")
    names = {key: table.name for key, table in CHECKLISTS.items()}
    tabs = st.tabs([names[key] for key in (*CHECKLIST_ANSWERS, "probast_ai")])
    for tab, key in zip(tabs, CHECKLIST_ANSWERS, strict=False):
        with tab:
            table = study_checklist(facts, key)
            counts = table["status"].value_counts()
            st.caption(" · ".join(f"{n} {status}" for status, n in counts.items()))
            st.dataframe(table, hide_index=True, key=f"cl_table_{key}")
            ui.csv_download(table[list(CHECKLIST_COLUMNS)], f"{prefix}_{key}.csv", label=f"{names[key]} (CSV)",
                            key=f"cl_dl_{key}")
            _author_answers(key, table)
    with tabs[-1]:
        probast = probast_assessment(facts)
        st.caption("A self-assessment, pre-answered from the study with the reason; the concern follows the answer "
                   "(yes: low, no: high, no information: unclear). Judge each before you cite it.")
        st.dataframe(probast, hide_index=True, key="cl_table_probast_ai")
        ui.csv_download(probast, f"{prefix}_probast_ai.csv", label="PROBAST+AI (CSV)", key="cl_dl_probast_ai")

    # -----------------------------------------------------------------------------------------
    st.subheader("Participant flow")
    flow = participant_flow(study, externals)
    boxes = flow.boxes()
    st.image(ui.flow_png(**boxes), width=700)  # drawn once per flow, not at every rerun of the page
    st.markdown(" ".join(flow.sentences()))
    files = st.container(horizontal=True, key="cl_flow_downloads")
    with files:
        ui.bytes_download("Flow diagram (SVG)", lambda: flow_diagram(**boxes, fmt="svg"),
                          f"{prefix}_participant_flow.svg", "image/svg+xml", key="cl_dl_flow_svg")
        ui.csv_download(flow.table(), f"{prefix}_participant_flow.csv", label="Participant flow (CSV)",
                        key="cl_dl_flow_csv")

    # -----------------------------------------------------------------------------------------
    st.subheader("Methods, drafted from the study")
    paragraphs = methods_text(study, results.models)
    st.text_area("Methods", "\n\n".join(paragraphs), height=260, key="cl_methods", label_visibility="collapsed",
                 help="Plain text to start your Methods from; copy it or download it below.")
    ui.bytes_download("Methods (text)", lambda: "\n\n".join(paragraphs).encode("utf-8"), f"{prefix}_methods.txt",
                      "text/plain", key="cl_dl_methods")
