"""Issue 17's findings that live above the readers (those are tests/core/test_input_safety.py, the saves and
imports tests/core/test_study.py): manifests confined to the data root or their upload, two browser sessions
with studies of the same name, edited autoencoder metadata, worker processes ending with a killed batch,
scratch folders aged out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.errors import RadNomoError
from core.imaging.extraction.batch import read_manifest
from core.workflows.sample import SAMPLE_DIR, SAMPLE_MANIFEST

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


def _bundled_case() -> pd.Series:
    manifest = read_manifest(SAMPLE_MANIFEST)
    return manifest[manifest["Image"].map(lambda p: Path(p).is_file())].iloc[0]


# 1. Reading any server file: manifest rows that leave the data root, absolute paths in an uploaded manifest.

def test_finding1_manifest_rows_leaving_the_data_root_are_refused(tmp_path):
    root = tmp_path / "root"
    (root / "cases").mkdir(parents=True)
    outside = tmp_path / "secret.nii.gz"
    outside.write_bytes(b"not yours")
    pd.DataFrame({"ID": ["A"], "Image": ["../../secret.nii.gz"], "Mask": ["m.nii.gz"]}).to_csv(
        root / "cases" / "manifest.csv", index=False)
    with pytest.raises(RadNomoError, match="points outside"):
        read_manifest(root / "cases" / "manifest.csv", confine_to=root)
    pd.DataFrame({"ID": ["A"], "Image": [str(outside)], "Mask": ["m.nii.gz"]}).to_csv(
        root / "cases" / "absolute.csv", index=False)
    with pytest.raises(RadNomoError, match="points outside"):
        read_manifest(root / "cases" / "absolute.csv", confine_to=root)
    (root / "cases" / "link.nii.gz").symlink_to(outside)
    pd.DataFrame({"ID": ["A"], "Image": ["link.nii.gz"], "Mask": ["m.nii.gz"]}).to_csv(
        root / "cases" / "linked.csv", index=False)
    with pytest.raises(RadNomoError, match="points outside"):
        read_manifest(root / "cases" / "linked.csv", confine_to=root)


def test_finding1_the_pages_confine_server_and_uploaded_manifests(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    case = _bundled_case()
    pd.DataFrame({"ID": [case["ID"]], "Image": [case["Image"]], "Mask": [case["Mask"]]}).to_csv(
        root / "manifest.csv", index=False)  # absolute paths into sample_data, outside this data root
    monkeypatch.setenv("RADNOMO_DATA_ROOT", str(root))
    monkeypatch.setenv("RADNOMO_WORKSPACE", str(tmp_path / "workspace"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/features_radiomics.py").run()
    at.radio(key="fr_source").set_value("Manifest on the server").run()
    at.text_input(key="fr_server_path").input("manifest.csv").run()
    at.button(key="fr_read_server").click().run()
    assert not at.exception and any("points outside" in e.value for e in at.error)


# 3. Shared studies: two sessions with a study of the same name.

@pytest.mark.slow
def test_finding3_two_sessions_never_see_each_others_studies(tmp_path, monkeypatch):
    monkeypatch.setenv("RADNOMO_WORKSPACE", str(tmp_path / "workspace"))

    def session() -> AppTest:
        at = AppTest.from_file(APP, default_timeout=180)
        at.run()
        return at

    first, second = session(), session()
    first.button(key="home_save").click().run()
    assert not first.exception and any("Saved to" in s.value for s in first.success)
    second.run()
    assert "home_saved_choice" not in [s.key for s in second.selectbox]  # nothing of the first session listed
    second.button(key="home_save").click().run()  # the same name: its own folder, the first one's untouched
    first.run()
    second.run()
    mine = first.selectbox(key="home_saved_choice").options
    theirs = second.selectbox(key="home_saved_choice").options
    assert len(mine) == len(theirs) == 1 and mine != theirs
    spaces = sorted(p.name for p in (tmp_path / "workspace" / "spaces").iterdir())
    assert len(spaces) == 2 and all(p.startswith("session-") for p in spaces)
    # Sharing is on purpose: then both list it.
    first.button(key="home_share").click().run()
    assert not first.exception and any("Shared as" in s.value for s in first.success)
    second.run()
    labels = second.selectbox(key="home_saved_choice").options
    assert any("[shared]" in o for o in labels) and len(labels) == 2


# 5. Tampered imports: autoencoder metadata edited to a huge crop.

@pytest.mark.slow
def test_finding5_edited_autoencoder_metadata_is_refused_without_allocating(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from core.imaging.deep.train import load_weights

    source = SAMPLE_DIR / "ae_weights.safetensors"
    with safe_open(str(source), framework="pt") as handle:
        metadata = handle.metadata()
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    described = json.loads(metadata["radnomo"])
    described["config"]["crop_size"] = 384
    save_file(tensors, str(tmp_path / "edited.safetensors"), metadata={**metadata, "radnomo": json.dumps(described)})
    import resource

    code = (f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({1 << 31}, {1 << 31}))\n"
            "from core.imaging.deep.train import load_weights\n"
            "from core.errors import RadNomoError\n"
            f"try:\n    load_weights({str(tmp_path / 'edited.safetensors')!r})\n"
            "except RadNomoError as error:\n    print('refused:', error)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert "refused:" in out.stdout and "does not match" in out.stdout, out.stderr[-2000:]
    assert resource  # the cap ran in the child, so a regression cannot take this machine down
    load_weights(source)  # the untouched file still loads


# 7. Worker processes end with their parent; scratch folders age out.

def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in found]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}/stat").exists() else "X"
    return state not in ("Z", "X")


@pytest.mark.slow
def test_finding7_killing_the_extraction_command_ends_its_workers(tmp_path):
    manifest = read_manifest(SAMPLE_MANIFEST)
    cases = manifest[manifest["Image"].map(lambda p: Path(p).is_file())].head(6)
    cases.to_csv(tmp_path / "cases.csv", index=False)
    process = subprocess.Popen([sys.executable, "-m", "core.cli.extract", str(tmp_path / "cases.csv"), "--params",
                                "study", "--out", str(tmp_path / "f.parquet"), "--workers", "2"], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
    workers: list[int] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(workers) < 2:
            workers = _children(process.pid)
            time.sleep(0.5)
        assert len(workers) >= 2, "the batch never started its workers"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.5)
    left = [p for p in workers if _alive(p)]
    for pid in left:  # never leave them running on the shared machine, whatever the test says
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers {left} outlived the killed batch"


def test_finding7_scratch_folders_age_out(tmp_path):
    from core.io.paths import age_out

    old, new = tmp_path / "upload-old", tmp_path / "upload-new"
    old.mkdir()
    new.mkdir()
    (old / "ct.nii.gz").write_bytes(b"x")
    past = time.time() - 2 * 24 * 3600
    os.utime(old, (past, past))
    assert age_out(tmp_path) == [old]
    assert not old.exists() and new.exists()
