"""Safety: the server's defaults, no unsafe loaders anywhere in the product, paths confined to the data
root, and DICOM identifiers never shown (only the cohort's patient ID)."""

from __future__ import annotations

import ast
import io
import os
import tomllib
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.io.paths import resolve_in_root

REPO = Path(__file__).resolve().parents[1]
PRODUCT = [REPO / "app.py", REPO / "ui.py", *sorted((REPO / "core").rglob("*.py")),
           *sorted((REPO / "pages").glob("*.py"))]
IBSI_DICOM = REPO.parent / "shared" / "data" / "ibsi_ct_phantom" / "dicom"


def test_server_binds_to_localhost_with_xsrf_protection_and_an_upload_limit():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["address"] == "localhost"
    assert server["enableXsrfProtection"] is True
    assert 0 < server["maxUploadSize"] <= 1024  # MB
    assert config["client"]["showErrorDetails"] is False  # no tracebacks in the browser
    assert config["browser"]["gatherUsageStats"] is False


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            found.append((name, node))
    return found


@pytest.mark.parametrize("path", PRODUCT, ids=lambda p: str(p.relative_to(REPO)))
def test_no_unsafe_loader_in_the_product(path):
    for name, call in _calls(path):
        assert not name.startswith(("pickle.", "cPickle.", "dill.", "joblib.", "marshal.")), f"{path}: {name}"
        assert name not in ("pd.read_pickle", "pandas.read_pickle", "eval", "exec", "yaml.load", "yaml.unsafe_load",
                            "yaml.full_load"), f"{path}: {name}"
        keywords = {k.arg: ast.unparse(k.value) for k in call.keywords}
        if name == "torch.load":
            assert keywords.get("weights_only") == "True", f"{path}: torch.load without weights_only=True"
        if name in ("np.load", "numpy.load"):
            assert keywords.get("allow_pickle", "False") == "False", f"{path}: np.load with allow_pickle"
    text = path.read_text()
    assert "import pickle" not in text and "from pickle" not in text, path


@given(st.lists(st.sampled_from([*"ab./~\\:-_ ", "..", "/etc", "%2e", "a/b"]), max_size=12).map("".join))
def test_any_typed_path_resolves_inside_the_root_or_is_refused(tmp_path_factory, typed):
    root = tmp_path_factory.getbasetemp() / "root"
    (root / "a").mkdir(parents=True, exist_ok=True)
    (root / "a" / "b").write_text("x")
    try:
        resolved = resolve_in_root(typed, root)
    except RadNomoError:
        return
    assert resolved.is_relative_to(root.resolve())


def test_a_link_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret.csv").write_text("id,x\n")
    os.symlink(tmp_path / "secret.csv", root / "innocent.csv")
    with pytest.raises(RadNomoError, match="outside the data root"):
        resolve_in_root("innocent.csv", root)


@pytest.mark.slow
@pytest.mark.skipif(not IBSI_DICOM.is_dir(), reason=f"needs the IBSI CT phantom DICOM in {IBSI_DICOM} (../shared)")
def test_dicom_identifiers_are_never_shown(tmp_path, monkeypatch):
    """A DICOM upload whose headers name a patient: scored on the New patient page, the name and
    birth date appear nowhere on the page or in the session."""
    import pydicom

    from core.io.paths import WORKSPACE_ENV
    from tests.pages.apptest_helpers import open_page

    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "workspace"))
    name, birth = "Doe^Jane Identifiable", "19471103"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(IBSI_DICOM.rglob("*.dcm")):
            header = pydicom.dcmread(path)
            header.PatientName, header.PatientBirthDate = name, birth
            out = io.BytesIO()
            header.save_as(out)
            archive.writestr(str(path.relative_to(IBSI_DICOM)), out.getvalue())
    at = open_page("pages/new_patient.py", timeout=600)
    at.radio(key="np_source").set_value("Zipped DICOM (CT series + RTSTRUCT or SEG)").run()
    at.file_uploader(key="np_dicom_upload").set_value(("case.zip", buffer.getvalue(), "application/zip")).run()
    at.button(key="np_score").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.metric, "the patient was scored"
    shown = []
    for kind in ("markdown", "caption", "metric", "text", "info", "success", "warning", "subheader"):
        shown += [str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in getattr(at, kind)]
    shown += [frame.value.to_csv() for frame in at.dataframe]
    shown.append(repr({k: at.session_state[k] for k in at.session_state}))
    for identifier in ("Doe^", "Jane", "Identifiable", birth):
        assert not any(identifier in text for text in shown), identifier
