"""Reading tables from files or uploaded bytes: CSV, TSV, XLSX (and Parquet for feature tables).

Public API: :func:`read_table`, :func:`read_any_table`. Bad input raises
:class:`core.errors.RadNomoError` with a message a person can act on.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.stats.cohort import level_text

__all__ = ["read_table", "read_any_table", "MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS"]

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".xlsx": "excel"}
# A cohort is patients, not a data dump: refuse tables that would only slow every page down.
MAX_TABLE_ROWS = 100_000
MAX_TABLE_COLUMNS = 20_000




def read_table(source: str | Path | bytes | bytearray, filename: str | None = None) -> pd.DataFrame:
    """Read a cohort table from a CSV, TSV or XLSX file.

    Parameters
    ----------
    source : path or bytes
        A file path, or the file's content (e.g. from an upload).
    filename : str, optional
        The file's name; required with bytes, to know the format from its extension
        (.csv, .tsv, .tab, .txt with the delimiter sniffed, .xlsx).

    Returns
    -------
    pandas.DataFrame
        The table as read, column names stripped of surrounding spaces; text stays text.

    Raises
    ------
    RadNomoError
        If the file is missing, empty, of an unsupported type, not a table, or has duplicate
        or blank column names.
    """
    if isinstance(source, (bytes, bytearray)):
        if not filename:
            raise RadNomoError("a file name (with its extension) is needed to read uploaded bytes.")
        data, name = bytes(source), filename
    else:
        path = Path(source)
        if not path.is_file():
            raise RadNomoError(f"file '{path}' does not exist or is not a file.")
        data, name = path.read_bytes(), path.name
    suffix = Path(name).suffix.lower()
    if suffix not in _TABLE_SUFFIXES:
        raise RadNomoError(f"'{name}' has an unsupported extension '{suffix or '(none)'}'; "
                           f"use one of {', '.join(sorted(_TABLE_SUFFIXES))}.")
    if not data.strip():
        raise RadNomoError(f"'{name}' is empty.")
    frame = _read_excel(data, name) if suffix == ".xlsx" else _read_delimited(data, name, _TABLE_SUFFIXES[suffix])
    if len(frame) > MAX_TABLE_ROWS or frame.shape[1] > MAX_TABLE_COLUMNS:
        raise RadNomoError(f"'{name}' has {len(frame):,} rows and {frame.shape[1]:,} columns; RadNomo reads tables "
                           f"of up to {MAX_TABLE_ROWS:,} patients and {MAX_TABLE_COLUMNS:,} columns.")
    return _tidy_columns(frame, name)


def _read_excel(data: bytes, name: str) -> pd.DataFrame:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise RadNomoError(f"'{name}' is not a valid .xlsx workbook; save it from your spreadsheet as .xlsx or CSV.")
    try:
        # header=None: pandas would silently rename duplicate headers ("x", "x.1"); _tidy_columns checks them.
        sheets = pd.read_excel(io.BytesIO(data), sheet_name=None, engine="openpyxl", header=None)
    except Exception as error:  # openpyxl raises many types for corrupt workbooks
        raise RadNomoError(f"'{name}' could not be read as a workbook ({type(error).__name__}: {error}).") from error
    filled = {sheet: frame for sheet, frame in sheets.items() if not frame.dropna(how="all").empty}
    if len(filled) > 1:
        # Reading the first sheet silently could analyse the wrong table (a data dictionary, a pivot).
        raise RadNomoError(f"'{name}' has {len(filled)} sheets with data ({', '.join(map(str, filled))}); keep the "
                           "cohort on one sheet (delete or move the others) or save that sheet as CSV.")
    frame = next(iter(filled.values()), next(iter(sheets.values())))
    return _header_from_first_row(frame, name)


def _header_from_first_row(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty:
        raise RadNomoError(f"'{name}' has no rows.")
    header = ["" if pd.isna(v) else level_text(v) for v in frame.iloc[0]]
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = header
    return body


def _read_delimited(data: bytes, name: str, delimiter: str | None) -> pd.DataFrame:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark (Excel's "Unicode text")
        data = data.decode("utf-16").encode("utf-8")
    if b"\x00" in data[:4096]:
        raise RadNomoError(f"'{name}' looks like a binary file (or UTF-16 text without a byte-order mark), not a "
                           "text table; export it as CSV (UTF-8).")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if delimiter == "," and "," not in text.split("\n", 1)[0]:
        # A "CSV" from a European spreadsheet is often separated by semicolons.
        delimiter = next((d for d in (";", "\t", "|") if d in text.split("\n", 1)[0]), ",")
    if delimiter is None:
        try:
            delimiter = _sniff_delimiter(text)
        except RadNomoError as error:
            raise RadNomoError(f"'{name}': {error}") from error
    try:
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=True,
                            skipinitialspace=True, header=None)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise RadNomoError(f"'{name}' is not a readable table: {error}".strip()) from error
    frame = _header_from_first_row(frame, name)
    if frame.shape[1] < 2:
        raise RadNomoError(f"'{name}' has only one column; a cohort table needs at least an ID and an outcome "
                           f"column, separated by '{delimiter}'" + (" (is it tab-separated?)"
                                                                     if delimiter == "," else "") + ".")
    # Numbers were read as text so that nothing is silently coerced; convert the columns that
    # are wholly numeric now, leaving mixed columns as text for validation to report.
    return frame


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    counts = {d: head.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise RadNomoError("no column separator (comma, tab, semicolon or bar) found; is this a table?")
    return best


def _tidy_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty or frame.shape[1] == 0:
        raise RadNomoError(f"'{name}' has no data rows.")
    columns = [str(c).strip() for c in frame.columns]
    blank = [i + 1 for i, c in enumerate(columns) if not c or c.startswith("Unnamed:")]
    if blank:
        raise RadNomoError(f"'{name}' has columns without a header (position {blank}); give every column a name.")
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    if duplicated:
        raise RadNomoError(f"'{name}' has duplicate column names {duplicated}; rename them.")
    frame.columns = columns
    frame = frame.dropna(how="all").reset_index(drop=True)
    # Text cells were read as text so that nothing is silently coerced; columns that are wholly
    # numeric become numbers now, mixed ones stay text for validation to report.
    for column in frame.columns:
        converted = pd.to_numeric(frame[column], errors="coerce")
        if converted.notna().sum() == frame[column].notna().sum():
            frame[column] = converted
    return frame


def read_any_table(data: bytes, filename: str) -> pd.DataFrame:
    """A clinical or feature table from bytes: Parquet (never pickle), or CSV/TSV/XLSX via :func:`read_table`."""
    if filename.lower().endswith(".parquet"):
        try:
            return pd.read_parquet(io.BytesIO(data))
        except Exception as error:  # pyarrow raises several types for a broken file
            raise RadNomoError(f"{filename} is not a readable Parquet file ({type(error).__name__}).") from error
    return read_table(data, filename)
