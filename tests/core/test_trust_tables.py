"""Tables read as they are (issue 24, "trust, second round"): one test per finding about reading tables.

1. a Parquet dictionary bomb (one long text copied into every row) is refused from its decoded size,
   under a memory cap; 2. a CSV mixing UTF-8 and other bytes is refused with its lines and bytes, never
   re-decoded silently; 3. dates are never numbers (Parquet timestamps, CSV date text); 4. duplicate
   column names are refused by name; 5. messages list a handful of items and a count; 6. parsers'
   own exceptions come out as RadNomoError.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import core.io.tables as tables
from core.errors import RadNomoError, listed
from core.io.limits import LIMITS
from core.io.tables import READ_NOTES, read_any_table, read_table
from core.stats.cohort import validate_cohort, validate_feature_table
from core.workflows.sample import SAMPLE_RADIOMICS
from tests.core.test_input_safety import assert_refused, run_capped


def _parquet(table: pa.Table, **options) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    return buffer.getvalue()


def _dictionary_bomb(rows: int, length: int) -> bytes:
    """``rows`` rows whose text is one ``length``-character value: one dictionary entry, run-length indices."""
    note = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["x" * length]))
    ids = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array(["P"]))
    # store_schema=False: no Arrow schema says "dictionary", so a reader sees plain text columns (as
    # any other writer's file), and pandas would copy the one value into every row.
    return _parquet(pa.table({"ID": ids, "note": note}), compression="zstd", store_schema=False)


def _cohort(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({"pid": [f"P{i}" for i in range(n)], "event": np.arange(n) % 2, "age": 40.0 + np.arange(n),
                         "diagnosed": pd.date_range("2020-01-01", periods=n)})


# ---------------------------------------------------------------------------------------------
# 1. Parquet decoded size
# ---------------------------------------------------------------------------------------------


def test_decoded_size_limit_is_declared_and_adjustable():
    assert tables.MAX_DECODED_BYTES == LIMITS["MAX_DECODED_BYTES"] == 500_000_000


@pytest.mark.slow
def test_parquet_dictionary_bomb_is_refused_from_its_decoded_size_under_a_memory_cap(tmp_path):
    """A 2.3 KB file decoded to a 900 MB frame (1.18 GB RSS); a 266 KB one asked for about 90 GB."""
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    small.write_bytes(_dictionary_bomb(100_000, 9_000))  # 900 MB decoded
    large.write_bytes(_dictionary_bomb(100_000, 900_000))  # 90 GB decoded
    assert small.stat().st_size < 2_300 and large.stat().st_size < 266_000
    normal = SAMPLE_RADIOMICS
    results = run_capped(f"""
        from pathlib import Path
        from core.io.tables import read_any_table
        for label, path in (("small", {str(small)!r}), ("large", {str(large)!r}), ("normal", {str(normal)!r})):
            data = Path(path).read_bytes()
            attempt(label, lambda: read_any_table(data, Path(path).name).shape)
    """, limit=1 << 30)  # 1 GiB of address space: the small bomb alone needed 1.18 GB
    assert_refused(results, "small", "decodes to 902 MB", "MAX_DECODED_BYTES")
    assert_refused(results, "large", "decodes to 90,002 MB", "MAX_DECODED_BYTES")
    assert results["normal"]["ok"], results["normal"]
    assert results["normal"]["value"] == "(1001, 1874)"


def test_parquet_is_read_as_pandas_reads_it():
    frame = pd.DataFrame({"city": ["Zürich", None, "Bern"], "grade": pd.Categorical(["a", "b", "a"]),
                          "when": pd.to_datetime(["2020-01-01", None, "2021-05-01"]), "x": [1.5, np.nan, 2.0],
                          "n": [1, 2, 3]}, index=pd.Index(["p1", "p2", "p3"], name="ID"))
    data = frame.to_parquet()
    pd.testing.assert_frame_equal(read_any_table(data, "t.parquet"), pd.read_parquet(io.BytesIO(data)))
    pd.testing.assert_frame_equal(read_any_table(data, "t.parquet"), frame)


def test_parquet_under_the_decoded_limit_reads_and_over_it_is_refused(monkeypatch):
    data = _dictionary_bomb(1_000, 1_000)  # 1 MB of text once decoded
    assert read_any_table(data, "ok.parquet")["note"].str.len().eq(1_000).all()
    monkeypatch.setattr(tables, "MAX_DECODED_BYTES", 500_000)
    with pytest.raises(RadNomoError, match=r"decodes to 1,0[0-9,]+ bytes.*MAX_DECODED_BYTES"):
        read_any_table(data, "bomb.parquet")


def test_parquet_whose_fixed_width_values_exceed_the_decoded_limit_is_refused_before_reading(monkeypatch):
    data = _parquet(pa.table({"a": np.zeros(10_000), "b": np.zeros(10_000)}))  # 160 KB of doubles
    monkeypatch.setattr(tables, "MAX_DECODED_BYTES", 100_000)
    monkeypatch.setattr(pq.ParquetFile, "read", lambda *a, **k: pytest.fail("read before the check"))
    with pytest.raises(RadNomoError, match="MAX_DECODED_BYTES"):
        read_any_table(data, "wide.parquet")


def test_parquet_text_whose_size_cannot_be_bounded_before_reading_is_refused():
    data = _parquet(pa.table({"s": ["y" * 10_000] * 100}), use_dictionary=False,
                    column_encoding={"s": "DELTA_BYTE_ARRAY"})
    with pytest.raises(RadNomoError, match="column 's' uses the DELTA_BYTE_ARRAY encoding"):
        read_any_table(data, "delta.parquet")


def test_parquet_with_list_columns_is_refused_by_name():
    data = _parquet(pa.table({"ID": ["a", "b"], "values": [[1, 2], [3]]}))
    with pytest.raises(RadNomoError, match="lists or records.*values"):
        read_any_table(data, "nested.parquet")


# ---------------------------------------------------------------------------------------------
# 2. Text encodings
# ---------------------------------------------------------------------------------------------


def test_one_latin1_byte_in_a_utf8_csv_is_refused_with_its_line_and_byte():
    """One latin-1 byte made a whole UTF-8 CSV read as latin-1 ("Zürich" -> "ZÃ¼rich"), silently."""
    lines = ["pid,city"] + [f"P{i},Zürich" for i in range(1, 733)]
    data = "\n".join(lines).encode("utf-8") + b"\nP733,Z\xfcrich\nP734,Bern\n"
    with pytest.raises(RadNomoError) as refused:
        read_table(data, "cities.csv")
    message = str(refused.value)
    assert "line 734, byte 0xfc" in message and "save the file as UTF-8" in message, message


def test_many_bad_bytes_are_counted_not_listed():
    data = "pid,city\nP0,Zürich\n".encode() + b"".join(b"P%d,Z\xfcrich\n" % i for i in range(1, 5_001))
    with pytest.raises(RadNomoError) as refused:
        read_table(data, "cities.csv")
    message = str(refused.value)
    assert "5,000 byte(s) are not (line 3, byte 0xfc, line 4, byte 0xfc, line 5, byte 0xfc and 4,997 more)" in message
    assert len(message) < 500


def test_a_file_wholly_in_windows_1252_is_read_as_such_with_a_note():
    data = "pid,city,price\nP1,Zürich,5 €\nP2,Genève,6 €\n".encode("cp1252")
    frame = read_table(data, "legacy.csv")
    assert frame["city"].tolist() == ["Zürich", "Genève"] and frame["price"].tolist() == ["5 €", "6 €"]
    assert "read as Windows-1252" in frame.attrs[READ_NOTES][0]


def test_utf8_is_read_as_it_is_without_a_note():
    frame = read_table("\ufeffpid,city\nP1,Zürich\nP2,Zürich\n".encode(), "c.csv")
    assert frame["city"].nunique() == 1 and frame["city"][0] == "Zürich"
    assert READ_NOTES not in frame.attrs


# ---------------------------------------------------------------------------------------------
# 3. Dates are not numbers
# ---------------------------------------------------------------------------------------------


def test_parquet_dates_stay_dates_and_are_refused_as_continuous():
    """Parquet dates used as continuous became nanoseconds since 1970, silently."""
    table = read_any_table(_cohort().to_parquet(), "cohort.parquet")
    assert pd.api.types.is_datetime64_any_dtype(table["diagnosed"])
    with pytest.raises(RadNomoError, match="continuous column 'diagnosed' holds dates"):
        validate_cohort(table, "pid", "event", continuous=["age", "diagnosed"])
    clean = validate_cohort(table, "pid", "event", continuous=["age"], categorical=["diagnosed"])
    assert clean["diagnosed"][0] == "2020-01-01 00:00:00"


@pytest.mark.parametrize("kind", ["timestamp", "date", "duration"])
def test_dates_are_refused_as_features(kind):
    cohort = _cohort()
    values = {"timestamp": cohort["diagnosed"], "date": cohort["diagnosed"].dt.date,
              "duration": cohort["diagnosed"] - cohort["diagnosed"].min()}[kind]
    features = read_any_table(pd.DataFrame({"ID": cohort["pid"], "volume": cohort["age"], "scan": values})
                              .to_parquet(), "f.parquet")
    with pytest.raises(RadNomoError, match="column 'scan' holds dates or times"):
        validate_feature_table(features, cohort["pid"])


def test_csv_date_text_is_refused_as_continuous_by_name():
    data = _cohort().assign(diagnosed=lambda t: t["diagnosed"].dt.strftime("%d.%m.%Y")).to_csv(index=False).encode()
    with pytest.raises(RadNomoError, match=r"continuous column 'diagnosed' holds dates or times \(e.g. '01.01.2020'\)"):
        validate_cohort(read_table(data, "c.csv"), "pid", "event", continuous=["diagnosed"])


# ---------------------------------------------------------------------------------------------
# 4. Duplicate column names
# ---------------------------------------------------------------------------------------------


def test_duplicate_parquet_columns_are_refused_by_name():
    data = _parquet(pa.table([pa.array([1, 2]), pa.array([3.0, 4.0]), pa.array(["a", "b"])],
                             names=["f1", "f1", "ID"]))
    with pytest.raises(RadNomoError, match=r"duplicate column names \('f1'\)"):
        read_any_table(data, "features.parquet")


@pytest.mark.parametrize("name", ["c.csv", "c.xlsx"])
def test_duplicate_columns_are_refused_by_name_not_renamed(name):
    frame = pd.DataFrame([["P1", 0, 1, 2]], columns=["pid", "event", "age", "age"])
    data = frame.to_csv(index=False).encode() if name.endswith(".csv") else _xlsx(frame)
    with pytest.raises(RadNomoError, match=r"duplicate column names \('age'\)"):
        read_table(data, name)


def _xlsx(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# 5. Short messages
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_workbook_with_16000_unnamed_columns_gets_a_short_message():
    """One xlsx message listed 16,000 positions."""
    frame = pd.DataFrame([["P1"] + [1] * 16_000], columns=["pid"] + [f"c{i}" for i in range(16_000)])
    data = _xlsx(frame)
    # Blank the header cells of every column but the first, in the worksheet's XML.
    source = zipfile.ZipFile(io.BytesIO(data))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                head, row, tail = content.partition(b"</row>")
                start = head.index(b"<row")
                head = head[:start] + head[start:].split(b"</c>", 1)[0] + b"</c>"
                content = head + row + tail
            out.writestr(item, content)
    with pytest.raises(RadNomoError) as refused:
        read_table(buffer.getvalue(), "wide.xlsx")
    message = str(refused.value)
    assert "16,000 column(s) without a header (position 2, 3, 4, 5, 6 and 15,995 more)" in message, message
    assert len(message) < 300


def test_a_missing_column_message_does_not_list_every_column_of_a_wide_table():
    table = pd.DataFrame(np.zeros((25, 16_000)), columns=[f"f{i}" for i in range(16_000)])
    with pytest.raises(RadNomoError) as refused:
        validate_cohort(table, "pid", "event")
    message = str(refused.value)
    assert "column(s) 'pid', 'event' not found; the table has 16,000 columns: 'f0', 'f1', 'f2', 'f3', 'f4' and " \
           "15,995 more." == message


@pytest.mark.parametrize("items, text", [([], ""), ([1, 2, 3], "1, 2, 3"), (range(1, 7), "1, 2, 3, 4, 5 and 1 more"),
                                         (range(16_001), "0, 1, 2, 3, 4 and 15,996 more")])
def test_listed_shows_five_items_and_counts_the_rest(items, text):
    assert listed(items) == text


def test_many_duplicate_names_are_counted():
    data = ("pid," + ",".join(f"c{i % 20}" for i in range(40)) + "\nP1" + ",1" * 40 + "\n").encode()
    with pytest.raises(RadNomoError, match=r"\('c0', 'c1', 'c10', 'c11', 'c12' and 15 more\)"):
        read_table(data, "c.csv")


# ---------------------------------------------------------------------------------------------
# 6. One exception type
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, data, words", [
    ("c.csv", b"\xff\xfep\x00i\x00d\x00,", "not UTF-16"),  # a byte-order mark, then an odd byte
    ("c.parquet", b"PAR1" + b"\x00" * 64 + b"PAR1", "not a readable Parquet file"),
    ("c.parquet", b"PAR1\x01\x02\x03\x04\xff\xff\xff\x7fPAR1", "not a readable Parquet file"),
    ("c.xlsx", b"PK\x05\x06" + b"\x00" * 18, "could not be read as a workbook"),  # an empty zip
])
def test_broken_files_are_refused_with_one_exception_type(name, data, words):
    with pytest.raises(RadNomoError, match=words):
        read_any_table(data, name)


def test_a_workbook_with_a_damaged_part_is_refused_with_one_exception_type():
    """zipfile.BadZipFile (a bad CRC) from inside a workbook becomes a RadNomoError naming the file."""
    source = zipfile.ZipFile(io.BytesIO(_xlsx(pd.DataFrame({"pid": ["P1", "P2"], "event": [0, 1]}))))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as out:
        for item in source.infolist():
            out.writestr(item.filename, source.read(item))
    data = bytearray(buffer.getvalue())
    at = data.index(b"<sheetData>")
    data[at + 1] ^= 0x20  # one flipped bit inside the stored worksheet: its CRC no longer matches
    with pytest.raises(RadNomoError, match=r"'c.xlsx' could not be read as a .xlsx workbook \(BadZipFile"):
        read_table(bytes(data), "c.xlsx")


def test_a_5000_digit_number_is_text_and_refused_as_continuous():
    data = ("pid,event,age\n" + "".join(f"P{i},{i % 2},{40 + i}\n" for i in range(29)) + "P29,1," + "9" * 5_000
            + "\n").encode()
    table = read_table(data, "c.csv")
    with pytest.raises(RadNomoError, match="continuous column 'age' has 1 value"):
        validate_cohort(table, "pid", "event", continuous=["age"])


@pytest.mark.parametrize("failure", [RecursionError("maximum recursion depth exceeded"), OverflowError("too big"),
                                     UnicodeDecodeError("utf-8", b"\xfc", 0, 1, "invalid start byte"),
                                     KeyError("xl/workbook.xml")])
def test_a_parser_failure_is_a_radnomo_error_naming_the_file(failure, monkeypatch):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(pd, "read_csv", fail)
    with pytest.raises(RadNomoError, match=f"'c.csv' could not be read as a text table \\({type(failure).__name__}"):
        read_table(b"pid,event\nP1,0\n", "c.csv")


def test_the_decoded_limit_is_set_from_the_environment():
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, pandas as pd; from core.io.tables import read_any_table, MAX_DECODED_BYTES; "
            "print(MAX_DECODED_BYTES); "
            "read_any_table(pd.DataFrame({'note': ['x' * 1000] * 10}).to_parquet(), 'n.parquet')")
    lowered = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, "RADNOMO_MAX_DECODED_BYTES": "5000"},
                             cwd=Path(__file__).resolve().parents[2])
    assert lowered.stdout.strip() == "5000" and "up to 5,000 bytes decoded (MAX_DECODED_BYTES)" in lowered.stderr


@pytest.mark.slow
def test_a_saved_study_whose_table_is_a_dictionary_bomb_is_refused_under_a_memory_cap(tmp_path, sample_study):
    """A study folder (or an imported study zip) reads its Parquet members through read_any_table too."""
    import hashlib
    import json

    from core.workflows.persistence import STUDY_FILE, save_study

    folder = save_study(sample_study, tmp_path / "study")
    description = json.loads((folder / STUDY_FILE).read_text())
    cohort = folder / description["cohort"]
    cohort.write_bytes(_dictionary_bomb(100_000, 9_000))
    description["files"][description["cohort"]] = hashlib.sha256(cohort.read_bytes()).hexdigest()  # as a tamperer
    (folder / STUDY_FILE).write_text(json.dumps(description))
    results = run_capped(f"""
        from core.workflows.persistence import load_study
        attempt("study", lambda: load_study({str(folder)!r}))
    """, limit=1 << 30)
    assert_refused(results, "study", "decodes to 902 MB", "MAX_DECODED_BYTES")


def test_a_feature_import_leaves_date_columns_out_and_says_so():
    """The feature-table import leaves non-numeric columns out and lists them; a date is one, never nanoseconds."""
    from core.stats.feature_tables import import_feature_table

    cohort = _cohort()
    table = read_any_table(pd.DataFrame({"ID": cohort["pid"], "volume": cohort["age"] * 1.5,
                                         "scanned": cohort["diagnosed"]}).to_parquet(), "f.parquet")
    imported = import_feature_table(table, cohort["pid"])
    assert list(imported.table.columns) == ["volume"]
    assert imported.dropped.to_dict("records") == [{"column": "scanned", "reason": "date"}]
    assert "1 date column(s) left out, e.g. scanned." in imported.notes
