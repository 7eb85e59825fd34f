"""The participant flow (core.workflows.participant_flow) and its diagram (core.figures.flow): counts per box
from the study, exclusions with their reasons, every cohort with its events."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest

from core.errors import RadNomoError
from core.figures.flow import flow_diagram
from core.workflows.participant_flow import participant_flow


@pytest.fixture(scope="module")
def study():
    from core.workflows.sample import sample_study

    return sample_study()


def test_the_flow_counts_every_patient_and_event(study):
    flow = participant_flow(study)
    assert flow.excluded is None and flow.assessed.patients == flow.included.patients == len(study.cohort)
    assert flow.externals == ()
    train, test = flow.cohorts
    assert (train.patients, test.patients) == (len(study.train_ids), len(study.test_ids))
    assert train.events + test.events == flow.included.events == study.n_events
    assert "outcome-stratified" in train.detail and f"seed {study.split.config.seed}" in train.detail
    table = flow.table()
    assert list(table["stage"]) == ["Patients in the table", "Included", "Training cohort", "Test cohort"]
    assert table["events"].isna().tolist() == [True, False, False, False]
    assert "none was excluded" in flow.sentences()[0]


def test_exclusions_are_counted_with_their_reasons(study):
    first, second, third = study.test_ids[:3]
    fewer = study.without_patients([first, second], "a missing CT").without_patients([third], "a second primary tumour")
    flow = participant_flow(fewer)
    assert flow.assessed.patients == len(study.cohort) and flow.included.patients == len(study.cohort) - 3
    assert flow.excluded.patients == 3
    assert flow.excluded.detail == "2 for a missing CT; 1 for a second primary tumour"
    assert flow.cohorts[1].patients == len(study.test_ids) - 3
    assert "3 were excluded (2 for a missing CT" in flow.sentences()[0]


def test_the_diagram_draws_each_box(study):
    flow = participant_flow(study)
    svg = flow_diagram(flow.assessed.text(), None, flow.included.text(), [b.text() for b in flow.cohorts],
                       fmt="svg")
    root = ET.parse(io.BytesIO(svg)).getroot()
    ids = {e.get("id") for e in root.iter() if e.get("id", "").startswith("flow-")}
    assert ids == {"flow-top", "flow-included", "flow-cohort-0", "flow-cohort-1"}
    png = flow_diagram("a", "b", "c", ["d", "e"], ["an external cohort"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = flow_diagram("a", "b", "c", ["d"], ["e"], fmt="svg").decode()
    assert 'id="flow-excluded"' in svg and 'id="flow-external-0"' in svg
    with pytest.raises(RadNomoError, match="at least one cohort"):
        flow_diagram("a", None, "c", [])
