"""The catalogue of bad inputs: every upload and path of the dashboard, driven through its page (AppTest).

Each case feeds one bad input where a user would (an upload widget, a server path, a params file),
and checks that the page shows a clear, specific message (an st.error holding the expected words),
that no exception escaped (no traceback), and that the open study is unchanged. The core functions
behind each boundary have their own tests (test_cohort, test_archive, test_extraction, test_study, ...).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from streamlit.testing.v1 import AppTest

from core.io.paths import DATA_ROOT_ENV
from tests.archives import make_zip
from tests.pages.apptest_helpers import open_page, open_study_page

SHARED_CT = Path(__file__).resolve().parents[3] / "shared" / "data" / "ibsi_ct_phantom"


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _csv(frame: pd.DataFrame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode("utf-8")


def _cohort(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "event": (np.arange(n) % 3 == 0).astype(int),
                         "age": rng.normal(60, 10, n).round(1), "grade": rng.choice(["G1", "G2"], n)})


def _xlsx(sheets: dict[str, pd.DataFrame]) -> bytes:
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return buffer.getvalue()




def _nifti(array: np.ndarray, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0)) -> bytes:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing[: array.ndim])
    image.SetOrigin(origin[: array.ndim])
    folder = Path(__import__("tempfile").mkdtemp())
    sitk.WriteImage(image, str(folder / "x.nii.gz"))
    return (folder / "x.nii.gz").read_bytes()


def _ct() -> np.ndarray:
    rng = np.random.default_rng(1)
    return (rng.normal(40, 20, (24, 40, 40))).astype(np.int16)


def _tumour(label: int = 1) -> np.ndarray:
    mask = np.zeros((24, 40, 40), np.uint8)
    mask[8:16, 12:28, 12:28] = label
    return mask


def _sample_features(kind: str) -> pd.DataFrame:
    from core.workflows.sample import SAMPLE_DEEP, SAMPLE_RADIOMICS

    return pd.read_parquet(SAMPLE_RADIOMICS if kind == "radiomics" else SAMPLE_DEEP)


def _feature_table(change: Callable[[pd.DataFrame], pd.DataFrame]) -> bytes:
    table = _sample_features("radiomics").iloc[:60, :30].reset_index()
    return _csv(change(table))


def _dicom_missing_slice() -> bytes:
    series = sorted((SHARED_CT / "dicom" / "image").glob("*.dcm")) if (SHARED_CT / "dicom").is_dir() else []
    rtstruct = sorted((SHARED_CT / "dicom" / "mask").glob("*.dcm")) if (SHARED_CT / "dicom").is_dir() else []
    members = {f"ct/{p.name}": p.read_bytes() for i, p in enumerate(series) if i != len(series) // 2}
    members.update({f"rtstruct/{p.name}": p.read_bytes() for p in rtstruct})
    return make_zip(members)


# ---------------------------------------------------------------------------------------------
# How each page receives an input
# ---------------------------------------------------------------------------------------------


def _upload_cohort(name: str, data: bytes, use: bool = False) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/cohort.py").run()
        at.radio(key="coh_source").set_value("Upload a file").run()
        at.file_uploader(key="coh_upload").set_value((name, data, "text/csv")).run()
        if use:
            at.selectbox(key="coh_id_column").set_value("pid").run()
            at.selectbox(key="coh_outcome_column").set_value("event").run()
            at.multiselect(key="coh_continuous").set_value(["age"]).run()
            at.button(key="coh_use_draft").click().run()
    return act


def _server_cohort(path: str) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/cohort.py").run()
        at.radio(key="coh_source").set_value("File on the server").run()
        at.text_input(key="coh_server_path").input(path).run()
        at.button(key="coh_read_server").click().run()
    return act


def _import_features(name: str, data: bytes) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/features_radiomics.py").run()
        at.file_uploader(key="fr_import_upload").set_value((name, data, "text/csv")).run()
        at.button(key="fr_import").click().run()
    return act


def _params(text: bytes) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/features_radiomics.py").run()
        at.selectbox(key="fr_params").set_value("Upload a params YAML").run()
        at.file_uploader(key="fr_params_upload").set_value(("params.yaml", text, "application/yaml")).run()
        at.button(key="fr_run").click().run()
    return act


def _external(clinical: bytes, radiomics: bytes | None = None) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/external.py").run()
        at.file_uploader(key="ext_clinical_upload").set_value(("external.csv", clinical, "text/csv")).run()
        if radiomics is not None:
            at.file_uploader(key="ext_radiomics_upload").set_value(("radiomics.csv", radiomics, "text/csv")).run()
        at.button(key="ext_add_upload").click().run()
    return act


def _patient_files(image: bytes, mask: bytes, image_name: str = "ct.nii.gz") -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/new_patient.py").run()
        at.radio(key="np_source").set_value("NIfTI / NRRD files").run()
        at.file_uploader(key="np_image_upload").set_value((image_name, image, "application/gzip")).run()
        at.file_uploader(key="np_mask_upload").set_value(("mask.nii.gz", mask, "application/gzip")).run()
        if not at.error:  # the images are checked as soon as both are given: a refused pair cannot be scored
            at.button(key="np_score").click().run()
    return act


def _patient_dicom(archive: bytes) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.switch_page("pages/new_patient.py").run()
        at.radio(key="np_source").set_value("Zipped DICOM (CT series + RTSTRUCT or SEG)").run()
        at.file_uploader(key="np_dicom_upload").set_value(("dicom.zip", archive, "application/zip")).run()
        if not at.error:
            at.button(key="np_score").click().run()
    return act


def _import_study(archive: bytes) -> Callable[[AppTest], None]:
    def act(at: AppTest) -> None:
        at.file_uploader(key="home_import_upload").set_value(("study.zip", archive, "application/zip")).run()
        at.button(key="home_import").click().run()
    return act


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One bad input: where it goes (``act``) and words the page's error message must hold."""

    id: str
    act: Callable[[], Callable[[AppTest], None]]  # built lazily: some inputs read the sample data
    message: str
    needs_shared: bool = False


def _cohort_xlsx_two_sheets() -> bytes:
    return _xlsx({"patients": _cohort(), "dictionary": pd.DataFrame({"column": ["pid"], "meaning": ["ID"]})})


def _very_large() -> bytes:
    n = 100_001
    return _csv(pd.DataFrame({"pid": np.arange(n), "event": np.arange(n) % 2}))


def _mixed_encoding() -> bytes:
    """A UTF-8 cohort with one patient's city in Latin-1 (one byte 0xfc on line 4)."""
    cities = ["Zürich"] * 40
    data = _csv(_cohort().assign(city=cities))
    return data.replace("Zürich".encode(), b"Z\xfcrich", 3).replace(b"Z\xfcrich", "Zürich".encode(), 2)


def _parquet_dictionary_bomb() -> bytes:
    """100,000 rows that all hold one 9,000-character text: under 1 KB on disk, 900 MB once decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    indices = pa.array(np.zeros(100_000, np.int32))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"ID": pa.DictionaryArray.from_arrays(indices, pa.array(["P0"])),
                             "note": pa.DictionaryArray.from_arrays(indices, pa.array(["x" * 9_000]))}),
                   buffer, compression="zstd", store_schema=False)  # plain text to a reader, not categories
    return buffer.getvalue()


def _parquet_duplicate_columns() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = _sample_features("radiomics").iloc[:60, :3].reset_index()
    buffer = io.BytesIO()
    pq.write_table(pa.table([pa.array(table.iloc[:, i]) for i in range(4)],
                            names=["ID", table.columns[1], table.columns[2], table.columns[1]]), buffer)
    return buffer.getvalue()


def _study_zip(extra: dict[str, bytes]) -> bytes:
    return make_zip({"study.json": b"{}", **extra})


def _study_json_bomb() -> bytes:
    """A study zip whose study.json unpacks to 20 MB (over the 8 MB JSON limit) at a ratio the bomb check allows."""
    import tempfile

    from tests.test_trust_study import json_bomb_zip

    path = Path(tempfile.mkdtemp()) / "bomb.zip"
    json_bomb_zip(path, 20_000_000)
    return path.read_bytes()


def _study_duplicate_json() -> bytes:
    import warnings

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
        archive.writestr("study.json", b"{}")
        archive.writestr("study.json", b'{"name": "second"}')
    return buffer.getvalue()


def _study_with_nan_models() -> bytes:
    """The sample study saved with its fit, one score coefficient then set to NaN (its file hash updated)."""
    import tempfile

    from core.workflows.persistence import save_study
    from core.workflows.sample import load_sample_fit, sample_study
    from tests.test_trust_study import _nan_score_coefficient, edit_models, study_zip

    study = sample_study()
    folder = save_study(study, Path(tempfile.mkdtemp()) / "study", load_sample_fit(study))
    edit_models(folder, _nan_score_coefficient)
    return study_zip(folder)


def _truncated_gz() -> bytes:
    data = _nifti(_ct())
    return data[: len(data) // 2]


def _external_clinical() -> bytes:
    from core.workflows.sample import SAMPLE_CLINICAL

    return _csv(pd.read_csv(SAMPLE_CLINICAL).head(80))


def _external_radiomics_without_needed() -> bytes:
    from core.workflows.sample import SAMPLE_CLINICAL

    ids = pd.read_csv(SAMPLE_CLINICAL).head(80)["patient_id"]
    return _csv(_sample_features("radiomics").loc[ids].iloc[:, :5].reset_index())


CATALOGUE = [
    # Cohort tables, read
    Case("cohort-empty", lambda: _upload_cohort("cohort.csv", b""), "is empty"),
    Case("cohort-wrong-delimiter", lambda: _upload_cohort("cohort.tsv", _csv(_cohort())), "only one column"),
    Case("cohort-utf16-without-bom", lambda: _upload_cohort("cohort.csv", _csv(_cohort()).decode().encode("utf-16-le")),
         "UTF-16"),
    Case("cohort-excel-two-sheets", lambda: _upload_cohort("cohort.xlsx", _cohort_xlsx_two_sheets()),
         "2 sheets with data"),
    Case("cohort-fake-xlsx", lambda: _upload_cohort("cohort.xlsx", b"PK this is not a workbook"), "not a valid .xlsx"),
    Case("cohort-binary", lambda: _upload_cohort("cohort.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "binary file"),
    Case("cohort-very-large", lambda: _upload_cohort("cohort.csv", _very_large()), "up to 100,000 patients"),
    Case("cohort-duplicate-header", lambda: _upload_cohort("cohort.csv", b"pid,event,age,age\nP1,0,1,2\n"),
         "duplicate column names"),
    Case("cohort-mixed-encoding", lambda: _upload_cohort("cohort.csv", _mixed_encoding()), "line 4, byte 0xfc"),
    Case("cohort-many-unnamed-columns", lambda: _upload_cohort("cohort.csv", b"pid,event" + b"," * 2_000 + b"\nP1,0"
                                                                + b",1" * 2_000 + b"\n"), "and 1,995 more"),
    # Cohort tables, validated
    Case("cohort-duplicate-ids", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        pid=["P1"] + [f"P{i}" for i in range(1, 40)])), use=True), "duplicated ID"),
    Case("cohort-non-binary-outcome", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        event=np.arange(40) % 3)), use=True), "3 distinct values"),
    Case("cohort-one-class", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(event=0)), use=True),
         "one class only"),
    Case("cohort-missing-outcome", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        event=[None] + [1, 0, 0] * 13)), use=True), "missing for 1 patient"),
    Case("cohort-infinite-value", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        age=[np.inf] + [60.0] * 39)), use=True), "infinite"),
    Case("cohort-text-in-numbers", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        age=["sixty"] + [60.0] * 39)), use=True), "not numbers"),
    Case("cohort-dates-as-continuous", lambda: _upload_cohort("c.csv", _csv(_cohort().assign(
        age=pd.date_range("1950-01-01", periods=40).strftime("%Y-%m-%d"))), use=True),
         "continuous column 'age' holds dates"),
    # Server paths
    Case("path-traversal", lambda: _server_cohort("../../etc/passwd"), "outside the data root"),
    Case("path-missing", lambda: _server_cohort("nothing_here.csv"), "does not exist"),
    Case("path-absolute", lambda: _server_cohort("/etc/passwd"), "outside the data root"),
    # Feature tables (imported into the study, or an external cohort's)
    Case("features-ids-not-in-cohort", lambda: _import_features("f.csv", _feature_table(
        lambda t: t.assign(ID=[f"X{i}" for i in range(len(t))]))), "are patients of the cohort"),
    # A flat, empty or text column is left out and listed (tests/pages/test_features_radiomics.py); a table
    # left with no feature at all is refused.
    Case("features-only-constant-columns", lambda: _import_features("f.csv", _feature_table(
        lambda t: t[["ID"]].assign(flat=3.0, level=1.0))), "no numeric feature column left"),
    Case("features-only-empty-columns", lambda: _import_features("f.csv", _feature_table(
        lambda t: t[["ID"]].assign(empty=np.nan, blank=np.nan))), "no numeric feature column left"),
    Case("features-only-text-columns", lambda: _import_features("f.csv", _feature_table(
        lambda t: t[["ID"]].assign(note="see report", reader="A"))), "no numeric feature column left"),
    Case("features-duplicate-ids", lambda: _import_features("f.csv", _feature_table(
        lambda t: pd.concat([t, t.head(2)]))), "duplicated ID"),
    Case("features-broken-parquet", lambda: _import_features("f.parquet", b"PAR1 not really"),
         "not a readable Parquet"),
    Case("features-parquet-dictionary-bomb", lambda: _import_features("f.parquet", _parquet_dictionary_bomb()),
         "MAX_DECODED_BYTES"),
    Case("features-parquet-duplicate-columns", lambda: _import_features("f.parquet", _parquet_duplicate_columns()),
         "duplicate column names"),
    Case("external-missing-features", lambda: _external(_external_clinical(), _external_radiomics_without_needed()),
         "the models use"),
    Case("external-missing-clinical-column", lambda: _external(_csv(pd.read_csv(
        __import__("core.workflows.sample", fromlist=["SAMPLE_CLINICAL"]).SAMPLE_CLINICAL).head(80)
        .drop(columns="cea_ng_ml"))),
         "cea_ng_ml"),
    # Images for a new patient
    Case("image-corrupt-nifti", lambda: _patient_files(b"this is no NIfTI at all", _nifti(_tumour())),
         "could not be read"),
    Case("image-truncated-gz", lambda: _patient_files(_truncated_gz(), _nifti(_tumour())), "truncated"),
    Case("image-mismatched-geometry", lambda: _patient_files(_nifti(_ct()), _nifti(_tumour(), spacing=(2, 2, 2))),
         "does not match the image's geometry"),
    Case("image-empty-mask", lambda: _patient_files(_nifti(_ct()), _nifti(np.zeros((24, 40, 40), np.uint8))),
         "absent from mask"),
    Case("image-absent-label", lambda: _patient_files(_nifti(_ct()), _nifti(_tumour(label=2))),
         "label 1 is absent"),
    Case("image-2d", lambda: _patient_files(_nifti(_ct()[0]), _nifti(_tumour()[0])), "3D CT volume is required"),
    Case("image-unsupported-format", lambda: _patient_files(b"GIF89a", _nifti(_tumour()), image_name="ct.gif"),
         "not a supported format"),
    Case("dicom-missing-slice", lambda: _patient_dicom(_dicom_missing_slice()), "missing", needs_shared=True),
    # Zips
    Case("zip-dicom-path-traversal", lambda: _patient_dicom(make_zip({"../evil.dcm": b"x"})), "path traversal"),
    Case("zip-dicom-no-series", lambda: _patient_dicom(make_zip({"readme.txt": b"nothing"})), "image series"),
    # A link named as a study file (any other name is refused before the link check, as not a study's).
    Case("zip-study-symlink", lambda: _import_study(make_zip({"study.json": b"{}"},
                                                             link="cohort-0123456789abcdef.parquet")), "symbolic link"),
    Case("zip-study-bomb", lambda: _import_study(_study_zip({"cohort-0123456789abcdef.parquet": b"\0" * 5_000_000})),
         "zip bomb"),
    Case("zip-study-nested", lambda: _import_study(_study_zip({"inner.zip": make_zip({"a": b"b"})})), "does not have"),
    Case("zip-study-pickle", lambda: _import_study(_study_zip({"models.pkl": b"\x80\x04K\x01."})), "pickle"),
    Case("zip-study-not-a-zip", lambda: _import_study(b"just text"), "not a zip"),
    Case("zip-study-json-bomb", lambda: _import_study(_study_json_bomb()), "RADNOMO_MAX_JSON_BYTES"),
    Case("zip-study-duplicate-json", lambda: _import_study(_study_duplicate_json()), "twice"),
    Case("zip-study-deep-json", lambda: _import_study(make_zip({"study.json": b"[" * 100_000 + b"]" * 100_000},
                                                               compression=zipfile.ZIP_STORED)), "nested too deeply"),
    Case("zip-study-nan-models", lambda: _import_study(_study_with_nan_models()), "not finite"),
    Case("zip-study-traversal", lambda: _import_study(make_zip({"../../outside.json": b"{}"})), "path traversal"),
    # pyradiomics params YAML
    Case("yaml-unknown-key", lambda: _params(b"setting: {binWidthh: 25}\n"), "not valid pyradiomics parameters"),
    Case("yaml-unsafe-tag", lambda: _params(b"!!python/object/apply:os.system ['echo unsafe']\n"),
         "not valid plain YAML"),
    Case("yaml-malformed", lambda: _params(b"imageType: [unclosed\n"), "not valid plain YAML"),
    Case("yaml-wrong-type", lambda: _params(b"imageType: {Original: {}}\nsetting: {binWidth: 'wide'}\n"),
         "not valid pyradiomics parameters"),
]


def test_the_catalogue_covers_every_kind_of_input():
    assert len(CATALOGUE) >= 30
    assert len({case.id for case in CATALOGUE}) == len(CATALOGUE)
    kinds = {case.id.split("-")[0] for case in CATALOGUE}
    assert kinds >= {"cohort", "path", "features", "external", "image", "dicom", "zip", "yaml"}
    assert {case.id.split("-")[0] for case in CATALOGUE if case.id in FAST_LANE} == kinds


def _state(at: AppTest) -> tuple:
    """What 'the open study is unchanged' compares: the (immutable) study object and its content fingerprint."""
    study = at.session_state["study"]
    return id(study), study.fingerprint


# One case of each kind runs in the fast lane (the cheapest measured); the others are marked slow, as each case
# runs the app through several reruns.
FAST_LANE = {"cohort-wrong-delimiter", "path-traversal", "features-only-constant-columns",
             "external-missing-clinical-column", "image-truncated-gz", "dicom-missing-slice", "zip-study-not-a-zip",
             "yaml-malformed"}


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id, marks=() if case.id in FAST_LANE else pytest.mark.slow)
                                  for case in CATALOGUE])
def test_bad_input_gets_a_specific_message_and_leaves_the_study_unchanged(case, workspace, tmp_path, monkeypatch,
                                                                         small_study):
    if case.needs_shared and not SHARED_CT.is_dir():
        pytest.skip(f"needs the IBSI CT phantom in {SHARED_CT} (not part of a fresh clone)")
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path))
    (tmp_path.parent / "outside.csv").write_text("pid,event\n1,0\n")
    # Any fitted study will do (what is checked is that it stays unchanged) and the small one renders faster;
    # a params YAML is run on images, which the sample study has.
    at = open_page(timeout=300) if case.id.startswith("yaml-") else open_study_page(small_study, "pages/home.py")
    before = _state(at)
    case.act()(at)
    assert not at.exception, at.exception
    messages = [e.value for e in at.error]
    assert any(case.message in m for m in messages), messages
    assert all("Traceback" not in m for m in messages)
    assert _state(at) == before
