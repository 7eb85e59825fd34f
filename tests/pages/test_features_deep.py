"""AppTest of the Features - deep page: train on training-cohort cases only, loss curve, reconstruction, latents."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.apptest_helpers import open_page


@pytest.fixture()
def page(workspace) -> AppTest:
    return open_page("pages/features_deep.py", timeout=240)


@pytest.mark.slow
def test_train_view_and_extract(page):
    at = page
    at.number_input(key="ae_epochs").set_value(2).run()
    at.selectbox(key="ae_crop").set_value(32).run()
    at.number_input(key="ae_latent").set_value(16).run()
    at.number_input(key="ae_max_cases").set_value(6).run()
    at.button(key="ae_train").click().run()
    assert not at.exception, at.exception
    study = at.session_state["study"]
    assert "Trained on 6 training patients" in at.success[0].value
    family = study.family("dl")
    assert len(family.autoencoder.history) >= 1 and family.autoencoder.weights.endswith(".safetensors")
    manifest_ids = at.session_state["ae_manifest"][2]["ID"].tolist()
    assert family.table.shape[1] == 16 and family.table.index.tolist() == manifest_ids
    at.slider(key="ae_slice").set_value(10).run()
    assert not at.exception
    at.button(key="ae_extract").click().run()
    assert not at.exception
    deep = at.session_state["study"].family("dl").table
    assert deep.shape[1] == 16 and list(deep.columns[:2]) == ["dl_000", "dl_001"]
    assert deep.index.tolist() == manifest_ids


def test_training_refuses_too_few_training_patients(page):
    at = page
    at.number_input(key="ae_max_cases").set_value(2).run()
    before = at.session_state["study"]
    at.button(key="ae_train").click().run()
    assert not at.exception
    assert "at least 4" in at.error[0].value
    assert at.session_state["study"] is before
