"""Saving, reopening, exporting and importing studies; unsafe or tampered archives are refused; saves are atomic."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core.errors import RadNomoError
from core.workflows.fit import fit_study, predict_study
from core.workflows.persistence import (STUDY_FILE, export_study, import_study, list_studies, load_study,
                                        load_study_models, save_study)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def saved_folder(tmp_path_factory, sample_study, sample_models):
    return save_study(sample_study, tmp_path_factory.mktemp("saved") / "s", sample_models)


@pytest.mark.slow
def test_save_and_reopen_gives_the_same_study_and_predictions(saved_folder, sample_study, sample_models):
    again = load_study(saved_folder)
    pd.testing.assert_frame_equal(again.cohort, sample_study.cohort)
    for family in sample_study.families:
        pd.testing.assert_frame_equal(again.family(family.name).table, family.table, check_names=False)
        assert again.family(family.name).kind == family.kind
    assert again.split == sample_study.split and again.spec == sample_study.spec
    assert again.settings == sample_study.settings and again.combined == sample_study.combined
    assert again.labels == sample_study.labels and again.subgroup == sample_study.subgroup
    assert again.fingerprint == sample_study.fingerprint  # the same study, so cached results stay valid
    models = load_study_models(saved_folder, again)
    pd.testing.assert_frame_equal(models.predict(again.cohort, again.feature_tables()),
                                  predict_study(sample_study, sample_models))
    pd.testing.assert_frame_equal(models.univariable, sample_models.univariable, check_dtype=False)
    assert again.family("dl").autoencoder.weights.endswith(".safetensors")
    assert list_studies(saved_folder.parent)["name"].tolist() == ["Sample study (synthetic)"]


@pytest.mark.slow
def test_saved_models_are_used_only_for_the_same_study(saved_folder, sample_study):
    changed = load_study(saved_folder).replace(name="renamed")
    assert load_study_models(saved_folder, changed) is None


@pytest.mark.slow
def test_refitting_a_reopened_study_reproduces_its_models(saved_folder, sample_models):
    refit = fit_study(load_study(saved_folder))
    pd.testing.assert_series_equal(refit.fused.fit.params, sample_models.fused.fit.params)


@pytest.mark.slow
def test_export_import_round_trip(tmp_path, sample_study, sample_models):
    archive = export_study(sample_study, tmp_path / "study.zip", sample_models)
    folder = import_study(archive, tmp_path / "studies")
    assert folder.parent == tmp_path / "studies" and load_study(folder).name == sample_study.name
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
    ({"inner.zip": b"PK"}, (), "itself an archive|does not have"),
    ({"study.json": b"{}", "notes.txt": b"hello"}, (), "does not have"),
    ({"study.json": b"not json"}, (), "not valid JSON"),
    ({"study.json": json.dumps({"format": "radnomo-study", "version": 99}).encode()}, (), "version 99"),
    ({"study.json": json.dumps({"format": "radnomo-study", "version": 2,
                                "files": {"cohort-0123456789abcdef.parquet": "0"}}).encode(),
      "cohort-0123456789abcdef.parquet": b"PAR1 not really"}, (), "changed after saving"),
    ({"study.json": b"{}", "cohort-0123456789abcdef.parquet": b"\x80\x04pickle"}, (), "not a Parquet"),
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
        archive.writestr("cohort-0123456789abcdef.parquet", b"0" * (50 << 20))  # 50 MB of zeros: ratio ~1000
    (tmp_path / "bomb.zip").write_bytes(bomb.getvalue())
    with pytest.raises(RadNomoError, match="zip bomb"):
        import_study(tmp_path / "bomb.zip", tmp_path / "studies")
    (tmp_path / "plain.zip").write_bytes(b"just text")
    with pytest.raises(RadNomoError, match="not a zip"):
        import_study(tmp_path / "plain.zip", tmp_path / "studies")


def test_load_study_detects_tampering(tmp_path, sample_study):
    folder = save_study(sample_study, tmp_path / "s")
    description = json.loads((folder / STUDY_FILE).read_text())
    cohort_file = folder / description["cohort"]
    cohort = pd.read_parquet(cohort_file)
    cohort.iloc[0, cohort.columns.get_loc("age")] = 99
    cohort.to_parquet(cohort_file)
    with pytest.raises(RadNomoError, match="changed after saving"):
        load_study(folder)


# ---------------------------------------------------------------------------------------------
# Imports re-validated as if typed by hand (a study.json edited with recomputed hashes)
# ---------------------------------------------------------------------------------------------


def _rehashed(folder: Path, edit_description=None, edit_cohort=None) -> Path:
    """Edit a saved study and recompute its hashes, as a tamperer would."""
    description = json.loads((folder / STUDY_FILE).read_text())
    if edit_cohort is not None:
        path = folder / description["cohort"]
        frame = edit_cohort(pd.read_parquet(path))
        frame.to_parquet(path)
        description["files"][description["cohort"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    if edit_description is not None:
        edit_description(description)
    (folder / STUDY_FILE).write_text(json.dumps(description))
    return folder


def _overlap(d):
    d["split"]["train_ids"] = d["split"]["train_ids"] + d["split"]["test_ids"]


def _string_ids(d):
    d["split"]["train_ids"] = "GC0001"


def _unknown(d):
    d["split"]["test_ids"] = d["split"]["test_ids"] + ["nobody"]


def _text_outcome(frame):
    frame = frame.copy()
    frame["lm"] = frame["lm"].map({0: "maybe", 1: "surely"})
    return frame


def _duplicated(frame):
    return pd.concat([frame, frame.iloc[:3]])


@pytest.mark.parametrize("edit_description, edit_cohort, message", [
    (_overlap, None, "both the training and the test"),
    (_string_ids, None, "list of patient IDs"),
    (_unknown, None, "unknown patient"),
    (None, _text_outcome, "outcome column 'lm'"),
    (None, _duplicated, "duplicate"),
])
def test_tampered_studies_with_recomputed_hashes_are_refused(tmp_path, sample_study, edit_description, edit_cohort,
                                                             message):
    folder = _rehashed(save_study(sample_study.without_family("dl"), tmp_path / "s"), edit_description, edit_cohort)
    with pytest.raises(RadNomoError, match=message):
        load_study(folder)


def _legacy_spec(d):
    """The spec as saved before outcomes were types: the binary outcome's column and labels beside the roles."""
    outcome = d["spec"].pop("outcome")
    d["spec"].update(outcome_column=outcome["column"], outcome_labels=outcome["labels"])


@pytest.mark.slow
def test_a_study_saved_in_the_previous_spec_layout_opens_as_the_same_study(tmp_path, sample_study):
    study = sample_study.without_family("dl")
    saved = json.loads((save_study(study, tmp_path / "new") / STUDY_FILE).read_text())["spec"]
    assert saved["outcome"] == {"kind": "binary", "column": "lm", "labels": ["non-LM", "LM"]}
    again = load_study(_rehashed(save_study(study, tmp_path / "old"), _legacy_spec))
    assert again.spec == study.spec and again.fingerprint == study.fingerprint


def _unknown_outcome(d):
    d["spec"]["outcome"]["kind"] = "competing_risks"  # no such outcome type (yet)


def _survival_without_its_columns(d):
    d["spec"]["outcome"]["kind"] = "survival"  # a known kind, but the binary outcome's fields


def test_a_saved_outcome_of_an_unknown_kind_is_refused(tmp_path, sample_study):
    folder = _rehashed(save_study(sample_study.without_family("dl"), tmp_path / "s"), _unknown_outcome)
    with pytest.raises(RadNomoError, match="outcome kind 'competing_risks' is not valid"):
        load_study(folder)
    folder = _rehashed(save_study(sample_study.without_family("dl"), tmp_path / "t"), _survival_without_its_columns)
    with pytest.raises(RadNomoError, match="time-to-event outcome has no valid time_column"):
        load_study(folder)


@pytest.mark.slow
def test_a_models_file_of_nulls_is_a_radnomo_error(tmp_path, sample_study, sample_models):
    folder = save_study(sample_study, tmp_path / "s", sample_models)
    description = json.loads((folder / STUDY_FILE).read_text())
    path = folder / description["models"]
    path.write_text(json.dumps({k: None for k in json.loads(path.read_text())}))
    description["files"][description["models"]] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / STUDY_FILE).write_text(json.dumps(description))
    with pytest.raises(RadNomoError, match="malformed"):
        load_study_models(folder, load_study(folder))


def test_encrypted_or_corrupt_members_are_radnomo_errors(tmp_path, sample_study):
    archive = export_study(sample_study.without_family("dl"), tmp_path / "ok.zip")
    data = bytearray(archive.read_bytes())
    # Flip bytes inside the first member's compressed data: a bad CRC (or a deflate error).
    with zipfile.ZipFile(archive) as handle:
        info = handle.infolist()[1]
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    data[start:start + 8] = bytes(b ^ 0xFF for b in data[start:start + 8])
    (tmp_path / "corrupt.zip").write_bytes(bytes(data))
    with pytest.raises(RadNomoError):
        import_study(tmp_path / "corrupt.zip", tmp_path / "studies")
    encrypted = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as handle:
        first = handle.infolist()[0]
    encrypted[first.header_offset + 6] |= 0x1  # the "encrypted" flag, in the local header
    for offset in _central_offsets(bytes(encrypted)):  # and in the central directory
        encrypted[offset + 8] |= 0x1
    (tmp_path / "encrypted.zip").write_bytes(bytes(encrypted))
    with pytest.raises(RadNomoError):
        import_study(tmp_path / "encrypted.zip", tmp_path / "studies")


def _central_offsets(data: bytes) -> list[int]:
    offsets, start = [], 0
    while (found := data.find(b"PK\x01\x02", start)) >= 0:
        offsets.append(found)
        start = found + 4
    return offsets


# ---------------------------------------------------------------------------------------------
# Atomic saves: a save killed at any moment leaves the previous copy loadable
# ---------------------------------------------------------------------------------------------

_SAVER = """
import sys, pandas as pd
from core.workflows.sample import sample_study
from core.workflows.persistence import save_study
study = sample_study().replace(name=sys.argv[2])
print("ready", flush=True)
while True:
    save_study(study, sys.argv[1])
    study = study.replace(cohort=study.cohort.assign(age=study.cohort["age"] + 1))
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.05, 0.3, 0.8, 1.5, 2.5])
def test_a_save_killed_at_any_moment_leaves_a_loadable_study(tmp_path, sample_study, delay):
    folder = tmp_path / "study"
    save_study(sample_study, folder)
    process = subprocess.Popen([sys.executable, "-c", _SAVER, str(folder), "killed while saving"], cwd=REPO,
                               stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert process.stdout.readline().strip() == b"ready"
        time.sleep(delay)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    study = load_study(folder)  # the previous copy (or a complete new one), never a broken one
    assert study.name in {sample_study.name, "killed while saving"}
    assert len(study.cohort) == len(sample_study.cohort)
    save_study(study, folder)  # the next save clears what the killed one left behind
    listed = set(json.loads((folder / STUDY_FILE).read_text())["files"]) | {STUDY_FILE}
    assert {p.name for p in folder.iterdir()} == listed
