"""Saving, reopening, exporting and importing studies; unsafe archives are refused."""

from __future__ import annotations

import io
import json
import pickle
import stat
import zipfile

import pandas as pd
import pytest

from core.errors import RadNomoError
from core.workflows.persistence import SavedStudy, export_study, import_study, list_studies, load_study, save_study


@pytest.fixture(scope="module")
def saved(sample_cohort, sample_features, sample_models):
    from core.workflows.sample import SAMPLE_AE_WEIGHTS, SAMPLE_SPEC

    split, models = sample_models
    return SavedStudy(name="Sample study (synthetic)", cohort=sample_cohort, spec=SAMPLE_SPEC, split=split,
                      model_settings=models.settings, radiomics=sample_features["radiomics"],
                      deep=sample_features["deep"], radiomics_settings={"params": "study"},
                      ae_weights=str(SAMPLE_AE_WEIGHTS), models=models, is_sample=True)


def test_save_and_reopen_gives_identical_predictions_and_tables(tmp_path, saved, sample_features):
    folder = save_study(saved, tmp_path / "s")
    again = load_study(folder)
    pd.testing.assert_frame_equal(again.cohort, saved.cohort)
    pd.testing.assert_frame_equal(again.radiomics, saved.radiomics)
    assert again.split == saved.split and again.spec == saved.spec and again.model_settings == saved.model_settings
    features = {"radiomics": again.radiomics, "deep": again.deep}
    pd.testing.assert_frame_equal(again.models.predict(again.cohort, features, again.spec),
                                  saved.models.predict(saved.cohort, sample_features, saved.spec))
    pd.testing.assert_frame_equal(again.models.univariable, saved.models.univariable, check_dtype=False)
    assert again.ae_weights.endswith("ae_weights.safetensors")
    assert list_studies(tmp_path)["name"].tolist() == ["Sample study (synthetic)"]


def test_refitting_a_reopened_study_reproduces_its_models(tmp_path, saved):
    from core.workflows.fit import fit_study_models

    again = load_study(save_study(saved, tmp_path / "s"))
    refit = fit_study_models(again.cohort, again.spec, again.split.train_ids,
                             {"radiomics": again.radiomics, "deep": again.deep}, again.model_settings)
    pd.testing.assert_series_equal(refit.fused.fit.params, again.models.fused.fit.params)


def test_export_import_round_trip(tmp_path, saved):
    archive = export_study(saved, tmp_path / "study.zip")
    folder = import_study(archive, tmp_path / "studies")
    assert folder.parent == tmp_path / "studies" and load_study(folder).name == saved.name
    second = import_study(archive, tmp_path / "studies")
    assert second != folder  # a second import gets its own folder


def _zip(members: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            if name in links:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, data)
    return buffer.getvalue()


@pytest.mark.parametrize("members, links, message", [
    ({"../evil.json": b"{}"}, (), "path traversal"),
    ({"study.json": b"/etc/passwd"}, ("study.json",), "symbolic link"),
    ({"model.pkl": pickle.dumps({"a": 1})}, (), "pickle"),
    ({"cohort.joblib": b"x"}, (), "pickle"),
    ({"inner.zip": b"PK"}, (), "itself an archive"),
    ({"study.json": b"{}", "notes.txt": b"hello"}, (), "does not have"),
    ({"study.json": b"not json"}, (), "not valid JSON"),
    ({"study.json": json.dumps({"format": "radnomo-study", "version": 99}).encode()}, (), "version 99"),
    ({"study.json": json.dumps({"format": "radnomo-study", "version": 1, "files": {"cohort.parquet": "0"}}).encode(),
      "cohort.parquet": b"PAR1 not really"}, (), "changed after saving"),
    ({"study.json": b"{}", "cohort.parquet": b"\x80\x04pickle"}, (), "not a Parquet"),
])
def test_import_refuses_unsafe_or_malformed_archives(tmp_path, members, links, message):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip(members, links))
    dest = tmp_path / "studies"
    with pytest.raises(RadNomoError, match=message):
        import_study(archive, dest)
    assert not any(dest.iterdir())  # nothing left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip", "studies"]  # nothing written outside


def test_import_refuses_oversize_members_and_non_zips(tmp_path):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("study.json", b"0" * (50 << 20))  # 50 MB of zeros: ratio ~1000
    (tmp_path / "bomb.zip").write_bytes(bomb.getvalue())
    with pytest.raises(RadNomoError, match="zip bomb"):
        import_study(tmp_path / "bomb.zip", tmp_path / "studies")
    (tmp_path / "plain.zip").write_bytes(b"just text")
    with pytest.raises(RadNomoError, match="not a zip"):
        import_study(tmp_path / "plain.zip", tmp_path / "studies")


def test_load_study_detects_tampering(tmp_path, saved):
    folder = save_study(saved, tmp_path / "s")
    cohort = pd.read_parquet(folder / "cohort.parquet")
    cohort.loc[0, "age"] = 99
    cohort.to_parquet(folder / "cohort.parquet")
    with pytest.raises(RadNomoError, match="changed after saving"):
        load_study(folder)
