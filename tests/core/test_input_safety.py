"""Input safety (issue 17): what a hostile or broken file can make the engine do, one test per finding.

1. headers that name data files outside their folder; 2. special files (devices, FIFOs);
3. memory bombs (xlsx, Parquet, CSV, images), refused before parsing; 4. silent wrong values
(NaN voxels, IDs, probabilities, missing scores, CSV formula injection); 5. the feature store.

Anything that could allocate a lot or hang runs in a child process under an address-space limit
(RLIMIT_AS, about 2 GiB) that the test kills by PID after a timeout, so a regression fails the
test instead of taking the machine down.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RadNomoError
from core.io.archive import safe_extract_zip
from core.io.tables import read_any_table, read_table
from core.stats.cohort import validate_cohort, validate_feature_table
from core.stats.evaluation import (calibration_curve, calibration_stats, compare_models, decision_curve, delong_test,
                                   hosmer_lemeshow, roc_auc)
from tests.archives import make_zip

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 2 << 30  # bytes of address space for a child that parses a bomb
QUICK_S = 10.0  # a refusal before parsing takes well under this

# ---------------------------------------------------------------------------------------------
# Running code in a capped child process
# ---------------------------------------------------------------------------------------------

_CHILD = """
import json, resource, sys, time, traceback
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {repo!r})
results = []
def attempt(label, function):
    start = time.perf_counter()
    try:
        value = function()
        results.append({{"label": label, "ok": True, "value": repr(value)[:200],
                         "seconds": time.perf_counter() - start}})
    except BaseException as error:
        from core.errors import RadNomoError
        results.append({{"label": label, "ok": False, "type": type(error).__name__,
                         "radnomo": isinstance(error, RadNomoError), "message": str(error)[:1000],
                         "seconds": time.perf_counter() - start}})
    print("RESULT " + json.dumps(results[-1]), flush=True)
{body}
"""


def run_capped(body: str, *, timeout: float = 60.0, limit: int = MEMORY_LIMIT) -> dict[str, dict]:
    """Run ``body`` (which calls ``attempt(label, function)``) in a child under RLIMIT_AS; {label: result}.

    The child is killed by its PID after ``timeout`` seconds; results printed before that are kept
    and the test fails on the missing ones.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
           "ARROW_DEFAULT_MEMORY_POOL": "system", "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    code = _CHILD.format(limit=limit, repo=str(REPO), body=textwrap.dedent(body))
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(child.pid, signal.SIGKILL)
        out, err = child.communicate()
        err = f"killed after {timeout:.0f} s\n{err}"
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line.removeprefix("RESULT "))
            results[result["label"]] = result
    results["_stderr"] = {"text": err[-3000:]}
    return results


def assert_refused(results: dict, label: str, *fragments: str, quick: bool = True) -> str:
    """The child refused ``label`` with a RadNomoError whose message holds every fragment."""
    assert label in results, f"'{label}' gave no result (hung or crashed): {results['_stderr']['text']}"
    result = results[label]
    assert not result["ok"], f"'{label}' was accepted: {result.get('value')}"
    assert result["radnomo"], f"'{label}' raised {result['type']}: {result['message']}"
    for fragment in fragments:
        assert fragment.lower() in result["message"].lower(), (fragment, result["message"])
    if quick:
        assert result["seconds"] < QUICK_S, (label, result["seconds"])
    return result["message"]


# ---------------------------------------------------------------------------------------------
# Finding 1: headers that point at data files
# ---------------------------------------------------------------------------------------------

_MHD = "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementSpacing = 1 1 1\nElementType = MET_UCHAR\n"
_NHDR = "NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspacings: 1 1 1\nencoding: raw\n"
_VOXELS = bytes([1, 2, 3, 4, 5, 6, 7, 8])

# name, header text ("{secret}" is the absolute path of a file outside the upload)
_BAD_HEADERS = [
    ("absolute.mhd", _MHD + "ElementDataFile = /etc/passwd\n"),
    ("absolute_secret.mhd", _MHD + "ElementDataFile = {secret}\n"),
    ("parent.mhd", _MHD + "ElementDataFile = ../secret.raw\n"),
    ("list.mhd", _MHD + "ElementDataFile = LIST 2D\n../secret.raw\n../secret.raw\n"),
    ("pattern.mhd", _MHD + "ElementDataFile = ../secret%d.raw 1 2 1\n"),
    ("inline.mha", _MHD + "ElementDataFile = {secret}\n"),
    ("detached.nhdr", _NHDR + "data file: {secret}\n"),
    ("nospace.nhdr", _NHDR + "datafile: ../secret.raw\n"),
    ("upper.nhdr", _NHDR + "DATA FILE: ../secret.raw\n\n"),
    ("list.nhdr", _NHDR + "data file: LIST 2\n../secret1.raw\n../secret2.raw\n"),
    ("pattern.nhdr", _NHDR + "data file: ../secret%d.raw 1 2 1 2\n\n"),
    ("attached_header.nrrd", _NHDR + "data file: ../secret.raw\n\n"),
    ("carriage_returns.nhdr", (_NHDR + "data file: ../secret.raw\n\n").replace("\n", "\r")),  # teem reads CR ends
]


def _secrets(folder: Path) -> Path:
    for name in ("secret.raw", "secret1.raw", "secret2.raw"):
        (folder / name).write_bytes(_VOXELS)
    return folder / "secret.raw"


def _label_volume(path: Path) -> Path:
    labels = np.zeros((2, 2, 2), np.uint8)
    labels[0, 0, 0] = 1
    sitk.WriteImage(sitk.GetImageFromArray(labels), str(path))
    return path


@pytest.mark.parametrize("role", ["image", "mask"])
@pytest.mark.parametrize(("name", "header"), _BAD_HEADERS, ids=[n for n, _ in _BAD_HEADERS])
def test_finding1_header_naming_a_data_file_outside_its_folder_is_refused(tmp_path, name, header, role):
    """An uploaded header may not make SimpleITK read a file outside the upload (e.g. /etc/passwd)."""
    from core.imaging.extraction.readers import read_case

    secret = _secrets(tmp_path)  # next to the upload folder: "../secret.raw" reaches it
    upload = tmp_path / "upload"
    files = safe_extract_zip(make_zip({name: header.format(secret=secret).encode()}), upload)
    good = _label_volume(upload / "good.nii.gz")
    image, mask = (files[0], good) if role == "image" else (good, files[0])
    with pytest.raises(RadNomoError, match="names the data file"):
        read_case(image, mask, label=None)


def test_finding1_link_leaving_the_header_folder_is_refused(tmp_path):
    from core.imaging.extraction.readers import read_image

    secret = _secrets(tmp_path)
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "ct.raw").symlink_to(secret)
    (folder / "ct.mhd").write_text(_MHD + "ElementDataFile = ct.raw\n")
    with pytest.raises(RadNomoError, match="link that leads outside"):
        read_image(folder / "ct.mhd")
    (folder / "sub").symlink_to(tmp_path, target_is_directory=True)
    (folder / "ct2.nhdr").write_text(_NHDR + "data file: sub/secret.raw\n")
    with pytest.raises(RadNomoError, match="outside"):
        read_image(folder / "ct2.nhdr")


def test_finding1_nifti_pair_header_is_refused(tmp_path):
    from core.imaging.extraction.readers import check_data_files

    path = tmp_path / "ct.nii"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((2, 2, 2), np.int16)), str(path))
    data = bytearray(path.read_bytes())
    data[344:348] = b"ni1\x00"  # a .hdr/.img pair's magic: the library would open ct.img
    path.write_bytes(bytes(data))
    with pytest.raises(RadNomoError, match="single-file NIfTI"):
        check_data_files(path)


def test_finding1_headers_with_their_data_alongside_still_read(tmp_path):
    from core.imaging.extraction.readers import read_image

    (tmp_path / "raw").mkdir()
    (tmp_path / "ct.raw").write_bytes(_VOXELS)
    (tmp_path / "raw" / "ct.raw").write_bytes(_VOXELS)
    for name in ("s1.raw", "s2.raw"):
        (tmp_path / name).write_bytes(_VOXELS[:4])
    headers = {"plain.mhd": _MHD + "ElementDataFile = ct.raw\n",
               "sub.nhdr": _NHDR + "data file: raw/ct.raw\n",
               "list.mhd": _MHD + "ElementDataFile = LIST 2D\ns1.raw\ns2.raw\n",
               "pattern.nhdr": _NHDR + "data file: s%d.raw 1 2 1 2\n"}
    for name, text in headers.items():
        (tmp_path / name).write_text(text)
        assert sitk.GetArrayFromImage(read_image(tmp_path / name)).sum() > 0, name
    local = tmp_path / "local.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((2, 2, 2), np.int16)), str(local))
    assert "LOCAL" in local.read_bytes()[:400].decode("latin-1")
    assert read_image(local).GetSize() == (2, 2, 2)


# ---------------------------------------------------------------------------------------------
# Finding 2: special files
# ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")
def test_finding2_devices_fifos_and_folders_are_refused_before_opening(tmp_path):
    """Hashing or reading a FIFO or /dev/zero used to hang; now they are refused from the inode."""
    os.mkfifo(tmp_path / "ct.nii")
    os.mkfifo(tmp_path / "mask.nii.gz")
    os.mkfifo(tmp_path / "table.csv")
    (tmp_path / "zero.nii.gz").symlink_to("/dev/zero")
    series = tmp_path / "series"
    series.mkdir()
    os.mkfifo(series / "slice.dcm")
    _label_volume(tmp_path / "good.nii.gz")
    results = run_capped(f"""
        from pathlib import Path
        from core.imaging.extraction.readers import content_hash, read_case, read_image
        from core.io.tables import read_table
        folder = Path({str(tmp_path)!r})
        attempt("hash fifo", lambda: content_hash(folder / "ct.nii"))
        attempt("hash zero", lambda: content_hash("/dev/zero"))
        attempt("hash link to zero", lambda: content_hash(folder / "zero.nii.gz"))
        attempt("hash folder holding a fifo", lambda: content_hash(folder / "series"))
        attempt("read fifo image", lambda: read_case(folder / "ct.nii", folder / "good.nii.gz"))
        attempt("read fifo mask", lambda: read_case(folder / "good.nii.gz", folder / "mask.nii.gz"))
        attempt("read zero image", lambda: read_case(folder / "zero.nii.gz", folder / "good.nii.gz"))
        attempt("read dicom folder holding a fifo", lambda: read_image(folder / "series"))
        attempt("table fifo", lambda: read_table(folder / "table.csv"))
        attempt("table zero", lambda: read_table("/dev/zero"))
        attempt("table folder", lambda: read_table(folder))
    """, timeout=30)
    for label in ("hash fifo", "hash zero", "hash link to zero", "read fifo image", "read fifo mask",
                  "read zero image", "table fifo", "table zero"):
        assert_refused(results, label, "not a regular file")
    assert_refused(results, "hash folder holding a fifo", "FIFO")
    assert_refused(results, "read dicom folder holding a fifo", "FIFO")
    assert_refused(results, "table folder", "folder")


def test_finding2_content_hash_refusal_is_an_oserror_for_the_batch_runner(tmp_path):
    """batch.run_batch reports a case whose files cannot be hashed by catching OSError."""
    from core.imaging.extraction.readers import content_hash

    with pytest.raises(OSError):
        content_hash("/dev/null")
    with pytest.raises(RadNomoError, match="does not exist"):
        content_hash(tmp_path / "missing.nii.gz")


# ---------------------------------------------------------------------------------------------
# Finding 3: memory bombs, refused before parsing
# ---------------------------------------------------------------------------------------------


def test_finding3_xlsx_with_a_cell_in_the_last_row_is_refused_before_parsing(tmp_path):
    """A 5 KB workbook with one cell at row 1,048,576 took 22.7 GB in pd.read_excel."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "outcome"])
    sheet.append(["P1", 1])
    sheet.cell(row=1_048_576, column=1, value="x")
    bomb = tmp_path / "bomb.xlsx"
    book.save(bomb)
    assert bomb.stat().st_size < 10_000
    results = run_capped(f"""
        from core.io.tables import read_table
        attempt("xlsx", lambda: read_table({str(bomb)!r}))
    """)
    assert_refused(results, "xlsx", "1,048,575 rows", "row 1,048,576", "MAX_TABLE_ROWS")


def test_finding3_xlsx_formulas_without_saved_values_are_refused():
    """openpyxl reads a formula without a cached value as empty: an all-NaN column."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "score"])
    for i in range(3):
        sheet.append([f"P{i}", f"=ROW()*{i}"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(RadNomoError, match="formula cell.*without a saved value.*save it.*CSV"):
        read_table(buffer.getvalue(), "formulas.xlsx")


def test_finding3_xlsx_parts_unpacking_past_the_limit_are_refused(monkeypatch):
    import core.io.tables as tables

    frame = pd.DataFrame({"id": [f"P{i}" for i in range(200)], "x": range(200)})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    assert read_table(buffer.getvalue(), "ok.xlsx").shape == (200, 2)
    monkeypatch.setattr(tables, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(RadNomoError, match="MAX_UNPACKED_BYTES"):
        read_table(buffer.getvalue(), "ok.xlsx")


@pytest.mark.slow
def test_finding3_parquet_declaring_50m_rows_is_refused_before_reading(tmp_path):
    """A 22 KB Parquet file declaring 50 M rows took 6.1 GB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    bomb = tmp_path / "bomb.parquet"
    chunk = pa.table({"ID": pa.array(np.zeros(1_000_000, np.int8)), "f": pa.array(np.zeros(1_000_000, np.int8))})
    with pq.ParquetWriter(bomb, chunk.schema, compression="zstd") as writer:
        for _ in range(50):
            writer.write_table(chunk)
    assert bomb.stat().st_size < 1_000_000
    results = run_capped(f"""
        from pathlib import Path
        from core.io.tables import read_any_table
        data = Path({str(bomb)!r}).read_bytes()
        attempt("parquet", lambda: read_any_table(data, "bomb.parquet"))
    """)
    assert_refused(results, "parquet", "50,000,000 rows", "MAX_TABLE_ROWS")


def test_finding3_csv_with_a_million_columns_is_refused_before_parsing(tmp_path):
    """A 4 MB CSV with 1 M columns took 112 s and 2.8 GB before the 20,000-column check."""
    bomb = tmp_path / "wide.csv"
    bomb.write_bytes(b"id," + b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n" + b"1," * 1_000_000 + b"1\n")
    results = run_capped(f"""
        from core.io.tables import read_table
        attempt("csv", lambda: read_table({str(bomb)!r}))
    """)
    assert_refused(results, "csv", "1,000,001 columns", "MAX_TABLE_COLUMNS")


def test_finding3_csv_with_too_many_lines_is_refused_before_parsing(tmp_path):
    bomb = tmp_path / "long.csv"
    bomb.write_bytes(b"id,a,b,c\n" + b"1,2,3,4\n" * 2_500_000)
    results = run_capped(f"""
        from core.io.tables import read_table
        attempt("csv", lambda: read_table({str(bomb)!r}))
    """)
    assert_refused(results, "csv", "2,500,000 lines", "MAX_TABLE_ROWS")


def test_finding3_table_byte_limit_is_checked_before_reading(tmp_path):
    table = tmp_path / "big.csv"
    table.write_bytes(b"id,x\n" + b"P1,2\n" * 400_000)  # 2 MB
    results = run_capped(f"""
        import core.io.tables as tables
        tables.MAX_TABLE_BYTES = 1_000_000  # an adjustable constant, read at call time
        data = open({str(table)!r}, "rb").read()
        attempt("path", lambda: tables.read_table({str(table)!r}))
        attempt("bytes", lambda: tables.read_table(data, "big.csv"))
        attempt("parquet", lambda: tables.read_any_table(data, "big.parquet"))
    """)
    for label in ("path", "bytes", "parquet"):
        assert_refused(results, label, "MAX_TABLE_BYTES")


def _nifti(path: Path, array: np.ndarray, spacing: tuple[float, float, float]) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path))
    return path


def test_finding3_nifti_declaring_a_coarse_spacing_is_refused_before_resampling(tmp_path):
    """A 77 KB NIfTI declaring 15 mm spacing was resampled to 600 x 600 x 360 (2.9 GB, 307 s)."""
    rng = np.random.default_rng(0)
    ct = _nifti(tmp_path / "ct.nii", rng.normal(40, 20, (24, 40, 40)).astype(np.int16), (15.0, 15.0, 15.0))
    labels = np.zeros((24, 40, 40), np.uint8)
    labels[8:16, 10:30, 10:30] = 1
    mask = _nifti(tmp_path / "mask.nii.gz", labels, (15.0, 15.0, 15.0))
    assert ct.stat().st_size < 80_000
    results = run_capped(f"""
        from core.imaging.extraction.preprocess import PreprocessConfig, preprocess_case
        from core.imaging.extraction import readers
        def read_then_preprocess():
            case = readers.read_case({str(ct)!r}, {str(mask)!r})
            return preprocess_case(case.image, case.mask, PreprocessConfig())
        attempt("preprocess", read_then_preprocess)  # the finding's path: read, then resample
        attempt("read_case", lambda: readers.read_case({str(ct)!r}, {str(mask)!r}, spacing_mm=(1.0, 1.0, 1.0)))
        attempt("header", lambda: readers.check_case_size({str(ct)!r}, (1.0, 1.0, 1.0)))
    """, timeout=60)
    for label in ("preprocess", "read_case", "header"):
        assert_refused(results, label, "600 x 600 x 360", "MAX_RESAMPLED_VOXELS")


def test_finding3_image_declaring_too_many_voxels_is_refused_before_reading(tmp_path):
    """A header may declare billions of voxels; the file need not hold them (here a sparse file)."""
    path = _nifti(tmp_path / "huge.nii", np.zeros((2, 2, 2), np.uint8), (1.0, 1.0, 1.0))
    header = bytearray(path.read_bytes()[:352])
    header[40:56] = np.array([3, 1024, 1024, 2048, 1, 1, 1, 1], "<i2").tobytes()  # dim[0..7]
    with path.open("wb") as handle:
        handle.write(bytes(header))
        handle.truncate(352 + 1024 * 1024 * 2048)  # 2 GiB of holes: no disk used
    results = run_capped(f"""
        from core.imaging.extraction.readers import read_image
        attempt("read", lambda: read_image({str(path)!r}))
    """)
    assert_refused(results, "read", "1024 x 1024 x 2048", "MAX_VOXELS")


def test_finding3_real_ct_sizes_pass_the_limits():
    from core.imaging.extraction.preprocess import MAX_RESAMPLED_VOXELS, resampled_size
    from core.imaging.extraction.readers import MAX_VOXELS, ImageHeader, check_image_size

    ct = ImageHeader(size=(512, 512, 600), spacing=(0.7, 0.7, 1.0), components=1, component_bytes=2)
    check_image_size(ct, spacing_mm=(1.0, 1.0, 1.0))
    assert resampled_size(ct.size, ct.spacing, (1.0, 1.0, 1.0)) == (358, 358, 600)
    assert ct.voxels < MAX_VOXELS and 358 * 358 * 600 < MAX_RESAMPLED_VOXELS


# ---------------------------------------------------------------------------------------------
# Finding 4: silent wrong values
# ---------------------------------------------------------------------------------------------


def test_finding4_nan_voxels_are_refused_with_a_count(tmp_path):
    """An all-NaN CT gave 107 'finite' features: NaN became 0 HU downstream."""
    from core.imaging.extraction.readers import read_case

    labels = np.zeros((6, 8, 8), np.uint8)
    labels[2:4, 2:6, 2:6] = 1
    mask = _nifti(tmp_path / "mask.nii.gz", labels, (1.0, 1.0, 1.0))
    all_nan = _nifti(tmp_path / "nan.nii.gz", np.full((6, 8, 8), np.nan, np.float32), (1.0, 1.0, 1.0))
    with pytest.raises(RadNomoError, match="384 of 384 voxels .*NaN or infinite"):
        read_case(all_nan, mask)
    some = np.zeros((6, 8, 8), np.float32)
    some[0, 0, :3] = [np.nan, np.inf, -np.inf]  # outside the ROI: resampling and filters would spread them
    with pytest.raises(RadNomoError, match="3 of 384 voxels"):
        read_case(_nifti(tmp_path / "some.nii.gz", some, (1.0, 1.0, 1.0)), mask)
    float_labels = labels.astype(np.float32)
    float_labels[0, 0, 0] = np.nan
    with pytest.raises(RadNomoError, match="mask 'float_mask.nii.gz' has 1 of 384"):
        read_case(_nifti(tmp_path / "ct.nii.gz", np.zeros((6, 8, 8), np.int16), (1.0, 1.0, 1.0)),
                  _nifti(tmp_path / "float_mask.nii.gz", float_labels, (1.0, 1.0, 1.0)), label=None)


def _cohort_csv(ids: list[str]) -> bytes:
    rows = "".join(f"{pid},{i % 2},{50 + i}\n" for i, pid in enumerate(ids))
    return f"pid,event,age\n{rows}".encode()


def test_finding4_ids_keep_their_text_through_read_table_and_validate_cohort():
    """'001' and '1E3' became 1 and 1000; 21-digit IDs raised a false duplicate (float precision)."""
    ids = [f"{i:03d}" for i in range(1, 21)] + ["1E3", "123456789012345678901", "123456789012345678902"]
    table = read_table(_cohort_csv(ids), "c.csv")
    assert table["pid"].tolist() == ids
    assert table["age"].dtype.kind in "if"  # measurements still become numbers
    clean = validate_cohort(table, "pid", "event", continuous=["age"])
    assert clean["pid"].tolist() == ids
    long_ids = [str(123456789012345678900 + i) for i in range(25)]
    assert validate_cohort(read_table(_cohort_csv(long_ids), "c.csv"), "pid", "event")["pid"].tolist() == long_ids
    features = read_any_table(b"ID,f1,f2\n001,1.5,2\n002,2.5,3\n1E3,3.5,5\n", "features.csv")
    assert validate_feature_table(features, ids).index.tolist() == ["001", "002", "1E3"]
    # from a workbook, typed text stays text too
    buffer = io.BytesIO()
    pd.DataFrame({"pid": ids, "event": [i % 2 for i in range(len(ids))]}).to_excel(buffer, index=False)
    assert validate_cohort(read_table(buffer.getvalue(), "c.xlsx"), "pid", "event")["pid"].tolist() == ids


_LOOK_ALIKES = [
    ("GC001", "GC\u200b001"),  # zero-width space
    ("GC001", "\ufeffGC001"),  # byte-order mark
    ("GC001", "GC0\u200d01"),  # zero-width joiner
    ("GC001", "ＧＣ００１"),  # full-width letters and digits
    (unicodedata.normalize("NFC", "Zoé-1"), unicodedata.normalize("NFD", "Zoé-1")),
    ("GC001", " GC001\u00a0"),  # surrounding (no-break) spaces
]


@pytest.mark.parametrize(("plain", "alike"), _LOOK_ALIKES, ids=["zwsp", "bom", "zwj", "fullwidth", "nfd", "spaces"])
def test_finding4_look_alike_ids_collide_naming_the_originals(plain, alike):
    ids = [plain, alike] + [f"P{i:03d}" for i in range(22)]
    frame = pd.DataFrame({"pid": ids, "event": [i % 2 for i in range(len(ids))]})
    with pytest.raises(RadNomoError, match="duplicated ID") as caught:
        validate_cohort(frame, "pid", "event")
    message = str(caught.value)
    assert f"'{plain}'" in message and " = " in message  # both originals, invisible characters spelled out
    features = pd.DataFrame({"ID": [plain, alike], "f": [1.0, 2.0]})
    with pytest.raises(RadNomoError, match="duplicated ID"):
        validate_feature_table(features, [plain])
    with pytest.raises(RadNomoError, match="duplicated ID"):
        validate_feature_table(features.set_index("ID"), [plain])  # IDs from the index
    # one look-alike alone matches the plain ID of the cohort
    assert validate_feature_table(features.iloc[[1]], [plain], refuse_constant=False).index.tolist() == \
        [_normalised(plain)]


_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz0123456789-_"
_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]
_NA_WORDS = {"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "n/a", "-NaN", "-nan", "inf", "Inf", "INF",
             "infinity", "Infinity", "-inf", "-Inf", "-INF", "-infinity", "-Infinity"}


def _normalised(text: str) -> str:
    """The ID rule, written out independently of core: zero-width characters out, NFKC, stripped."""
    for character in _INVISIBLE:
        text = text.replace(character, "")
    return unicodedata.normalize("NFKC", text).strip()


def _valid_id(text: str) -> bool:
    return text not in _NA_WORDS and _normalised(text) == text


_ID_FAMILIES = [
    st.from_regex(r"[0-9]{1,25}", fullmatch=True),  # leading zeros, long numbers
    st.from_regex(r"-?[1-9][0-9]{0,14}", fullmatch=True),  # plain integers
    st.from_regex(r"[1-9][0-9]{0,3}[eE][-+]?[0-9]{1,3}", fullmatch=True),  # codes that look like exponents
    st.text(alphabet=_ALNUM, min_size=1, max_size=12),
    st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=8),
]
# A column of one family (all digits, say) is where a number conversion would bite; mixed ones too.
_id_columns = st.one_of(*(st.lists(family.filter(_valid_id), min_size=20, max_size=30, unique_by=_normalised)
                          for family in [*_ID_FAMILIES, st.one_of(*_ID_FAMILIES)]))


@given(base=st.text(alphabet=_ALNUM, min_size=1, max_size=10),
       inserts=st.lists(st.tuples(st.integers(0, 10), st.sampled_from(_INVISIBLE)), min_size=1, max_size=4))
def test_property_ids_with_zero_width_characters_collide_with_the_plain_id(base, inserts):
    alike = base
    for position, character in inserts:
        position = min(position, len(alike))
        alike = alike[:position] + character + alike[position:]
    from core.stats.cohort import normalise_id

    assert normalise_id(alike) == normalise_id(base) == _normalised(base)
    ids = [base, alike] + [f"other{i}" for i in range(22)]
    with pytest.raises(RadNomoError, match="duplicated ID"):
        validate_cohort(pd.DataFrame({"pid": ids, "event": [i % 2 for i in range(24)]}), "pid", "event")


@given(st.text(alphabet="aeiouAEIOUnNcCyYzZ0123456789\u0301\u0300\u0308\u0303\u0327", min_size=1, max_size=10))
def test_property_nfc_and_nfd_forms_collide(text):
    from core.stats.cohort import normalise_id

    composed, decomposed = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    assert normalise_id(composed) == normalise_id(decomposed)
    if composed != decomposed and normalise_id(composed):
        ids = [composed, decomposed] + [f"other{i}" for i in range(22)]
        with pytest.raises(RadNomoError, match="duplicated ID"):
            validate_cohort(pd.DataFrame({"pid": ids, "event": [i % 2 for i in range(24)]}), "pid", "event")


@given(_id_columns)
def test_property_text_ids_round_trip_through_read_table_and_validate_cohort(ids):
    clean = validate_cohort(read_table(_cohort_csv(ids), "cohort.csv"), "pid", "event", continuous=["age"])
    assert clean["pid"].tolist() == ids


def test_finding4_calibration_refuses_probabilities_outside_0_1_or_missing():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = rng.uniform(0.05, 0.95, 200)
    hosmer_lemeshow(y, good)
    calibration_stats(y, good)
    for bad, fragment in ((good * 1.5, "between 0 and 1"), (good - 0.5, "between 0 and 1"),
                          (np.where(np.arange(200) < 10, np.nan, good), "10 of 200 are missing")):
        for function in (hosmer_lemeshow, calibration_stats, calibration_curve, decision_curve):
            with pytest.raises(RadNomoError, match=fragment):
                function(y, bad)


def test_finding4_paired_comparison_refuses_missing_scores_with_a_count_per_model():
    """One model with 40 % NaN scores silently scored both models on the shared rows."""
    rng = np.random.default_rng(1)
    y = np.arange(100) % 2
    a = y + rng.normal(0, 1, 100)
    b = np.where(np.arange(100) < 40, np.nan, y + rng.normal(0, 1, 100))
    with pytest.raises(RadNomoError, match=r"model 'b' lacks a score for 40 of 100 patients"):
        compare_models(y, {"a": a, "b": b})
    with pytest.raises(RadNomoError, match="40 of 100"):
        delong_test(y, a, b)
    assert np.isfinite(roc_auc(y, a).auc)  # one model on its own patients is unchanged
    assert len(compare_models(y, {"a": a, "c": -a})) == 1


def test_finding4_csv_bytes_defuses_formula_cells_and_leaves_numbers():
    from core.io.tables import csv_bytes

    frame = pd.DataFrame({"=note": ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx",
                                    "-5", "plain", None],
                          "value": [-1.5, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, np.nan],
                          "count": [-1, 2, 3, 4, 5, 6, 7, 8, 9]})
    data = csv_bytes(frame)
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == ["'=note", "value", "count"]
    assert [row[0] for row in rows[1:]] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx",
                                            "'\rx", "-5", "plain", ""]
    assert rows[1][1:] == ["-1.5", "-1"] and rows[2][1:] == ["-2.0", "2"]  # numbers untouched, negative ones too
    assert csv_bytes(frame.set_index("=note"), index=True).decode().startswith("'=note,")
    assert frame["=note"].iloc[0].startswith("=")  # the input is not modified


# ---------------------------------------------------------------------------------------------
# Finding 5: the feature store
# ---------------------------------------------------------------------------------------------


def test_finding5_damaged_or_foreign_store_file_raises_radnomo_error(tmp_path):
    from core.imaging.extraction.store import FeatureStore

    path = tmp_path / "store.sqlite"
    with FeatureStore(path) as store:
        for i in range(200):
            store.put(f"k{i}", case_id=str(i), image_sha256="a", mask_sha256="b", settings_sha256="c",
                      extractor_version="v", seconds=1.0, features={f"f{j}": float(j) for j in range(50)})
    data = path.read_bytes()
    truncated = tmp_path / "truncated.sqlite"
    truncated.write_bytes(data[:len(data) // 2])
    foreign = tmp_path / "notes.sqlite"
    foreign.write_bytes(b"these are not the features you are looking for\n" * 100)
    for damaged in (truncated, foreign):
        with pytest.raises(RadNomoError, match=f"feature store '.*{damaged.name}' is not a readable SQLite database"
                                               ".*move or delete it"):
            FeatureStore(damaged)


_WRITER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
sys.path.insert(0, {repo!r})
from core.imaging.extraction.store import FeatureStore
path, writer, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while time.time() < start:  # all writers begin together
    time.sleep(0.001)
for i in range({rows}):
    store = FeatureStore(path) if {reopen} or i == 0 else store
    store.put(f"w{{writer}}-{{i}}", case_id=f"c{{writer}}-{{i}}", image_sha256="a", mask_sha256="b",
              settings_sha256="s", extractor_version="v", seconds=0.1, features={{"f": float(i), "g": 1.0}})
    if {reopen}:
        store.close()
"""

_SLOW_WRITER = f"""
import resource, sqlite3, sys, time
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
path, start = sys.argv[1], float(sys.argv[2])
while time.time() < start - 0.5:
    time.sleep(0.001)
connection = sqlite3.connect(path, isolation_level=None, timeout=30)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("CREATE TABLE IF NOT EXISTS slow (x)")
connection.execute("BEGIN IMMEDIATE")  # a writer holding the lock longer than SQLite's default 5 s wait
connection.execute("INSERT INTO slow VALUES (1)")
time.sleep(6.5)
connection.execute("COMMIT")
"""


@pytest.mark.slow
@pytest.mark.parametrize(("reopen", "slow_writer"), [(False, True), (False, False), (True, False)],
                         ids=["slow-writer", "one-connection-each", "reopen-per-row"])
def test_finding5_six_concurrent_writers_keep_every_row(tmp_path, reopen, slow_writer):
    """'database is locked' under concurrent writers lost rows; now writers wait and retry."""
    import sqlite3

    rows, writers = 25, 6
    for repetition in range(2):
        path = tmp_path / f"store{repetition}.sqlite"
        start = time.time() + 2.0
        script = _WRITER.format(repo=str(REPO), rows=rows, reopen=reopen, limit=MEMORY_LIMIT)
        children = [subprocess.Popen([sys.executable, "-c", script, str(path), str(w), str(start)], cwd=REPO,
                                     stderr=subprocess.PIPE, text=True)
                    for w in range(writers)]
        if slow_writer:
            children.append(subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path), str(start)],
                                             stderr=subprocess.PIPE, text=True))
        errors = []
        for child in children:
            try:
                errors.append(child.communicate(timeout=120)[1].strip())
            except subprocess.TimeoutExpired:
                os.kill(child.pid, signal.SIGKILL)
                errors.append("killed: " + child.communicate()[1].strip())
        failures = [e.splitlines()[-1] for e in errors if e]
        assert not failures, failures
        with sqlite3.connect(path) as connection:
            keys = {k for (k,) in connection.execute("SELECT key FROM features")}
        assert keys == {f"w{w}-{i}" for w in range(writers) for i in range(rows)}


@pytest.mark.slow
def test_every_limit_is_adjustable_from_the_environment(tmp_path):
    """RADNOMO_<NAME> overrides a limit (a deployment raises or lowers it); a bad value refuses to start."""
    import subprocess
    import sys

    from core.io.limits import LIMITS

    import core.imaging.extraction.readers  # noqa: F401 - each module declares its limits on import
    import core.io.tables  # noqa: F401
    import core.workflows.persistence  # noqa: F401

    assert {"MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS", "MAX_TABLE_CELLS", "MAX_TABLE_BYTES", "MAX_UNPACKED_BYTES",
            "MAX_WORKBOOK_PARTS", "MAX_VOXELS", "MAX_RESAMPLED_VOXELS", "MAX_HEADER_BYTES", "MAX_ARCHIVE_BYTES"} \
        <= set(LIMITS)
    code = ("import pandas as pd; from core.io.tables import read_table, MAX_TABLE_ROWS; print(MAX_TABLE_ROWS);"
            "read_table(b'id,y\\n' + b''.join(b'%d,0\\n' % i for i in range(20)), 'x.csv')")
    lowered = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "RADNOMO_MAX_TABLE_ROWS": "10"}, cwd=REPO)
    assert lowered.stdout.strip() == "10" and "up to 10 patients (MAX_TABLE_ROWS)" in lowered.stderr
    bad = subprocess.run([sys.executable, "-c", "import core.io.tables"], capture_output=True, text=True,
                         env={**os.environ, "RADNOMO_MAX_TABLE_ROWS": "lots"}, cwd=REPO)
    assert bad.returncode != 0 and "RADNOMO_MAX_TABLE_ROWS='lots' must be a positive whole number" in bad.stderr
