"""Reading tables from files or uploaded bytes (CSV, TSV, XLSX, and Parquet for feature tables), and
writing them as CSV that is safe to open in a spreadsheet.

Public API: :func:`read_table`, :func:`read_any_table`, :func:`csv_bytes`. Bad input raises
:class:`core.errors.RadNomoError` with a message a person can act on.

Every size limit below is checked *before* the file is parsed, from what the file declares or
from a cheap count over its bytes: parsers allocate per row, per column or per declared cell, so
a few kilobytes can otherwise claim gigabytes (a workbook with one cell in row 1,048,576, a
Parquet file declaring 50 million rows, a CSV header with a million columns). The limits are
module-level constants, read at call time, so a deployment can raise them.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree
from xml.parsers import expat

import numpy as np
import pandas as pd

from core.errors import RadNomoError, listed
from core.io.limits import limit
from core.io.paths import open_regular_file
from core.stats.cohort import level_text

__all__ = ["read_table", "read_any_table", "csv_bytes", "MAX_TABLE_ROWS", "MAX_TABLE_COLUMNS", "MAX_TABLE_CELLS",
           "MAX_TABLE_BYTES", "MAX_UNPACKED_BYTES", "MAX_DECODED_BYTES", "MAX_WORKBOOK_PARTS", "READ_NOTES"]

_TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": None, ".xlsx": "excel"}

#: ``DataFrame.attrs`` key of the notes a read leaves for the person (a list of str), e.g. that a
#: file was read as Windows-1252 text because it holds no UTF-8 at all; a page shows them.
READ_NOTES = "read_notes"

#: Most data rows (patients) in a table, header not counted: 100,000. A cohort is patients, not a
#: data dump; larger tables would only slow every page down.
MAX_TABLE_ROWS = limit("MAX_TABLE_ROWS", 100_000)
#: Most columns in a table: 21,000 (a radiomics table with every filter has about 1,900; 20,000 features
#: with their ID and a pyradiomics export's diagnostics columns fit).
MAX_TABLE_COLUMNS = limit("MAX_TABLE_COLUMNS", 21_000)
#: Most cells (rows x columns, header row included, counting the padding a parser adds to ragged rows):
#: 22,000,000, e.g. 1,000 patients x 20,000 features or 10,000 x 2,000 (issue 26's shapes, with their ID
#: column, header and some metadata) or 100,000 patients x 200 variables. Each cell costs a parser tens of
#: bytes, so this bounds a table's memory to about a gigabyte.
MAX_TABLE_CELLS = limit("MAX_TABLE_CELLS", 22_000_000)
#: Largest table file, as stored or uploaded: 200,000,000 bytes (200 MB).
MAX_TABLE_BYTES = limit("MAX_TABLE_BYTES", 200_000_000)
#: Most bytes a table may unpack to before parsing: 500,000,000 (500 MB) of XML inside an .xlsx
#: (all its parts together: worksheets, shared strings, styles), or of uncompressed column data
#: in a Parquet file.
MAX_UNPACKED_BYTES = limit("MAX_UNPACKED_BYTES", 500_000_000)
#: Most bytes a Parquet table may decode to: 500,000,000 (500 MB) of values as Arrow holds them
#: (numbers at their width, text at its length plus 8 bytes a row), as MAX_UNPACKED_BYTES: the
#: cell limit allows 160 MB of numbers (20 M cells x 8 bytes), which leaves room for text.
#: Encoded bytes are a poor guide: a dictionary page copies one value into every row, so a
#: 2.3 KB file decoded to 900 MB and a 266 KB one asked for about 90 GB.
MAX_DECODED_BYTES = limit("MAX_DECODED_BYTES", 500_000_000)
#: Most parts (zip members) in an .xlsx: 10,000 (a workbook has a dozen or so).
MAX_WORKBOOK_PARTS = limit("MAX_WORKBOOK_PARTS", 10_000)

# Text that pandas reads as a number but whose text would not come back from that number, so a
# wholly numeric column holding any of it stays text (patient IDs above all): a leading "+", leading
# zeros ("007", "-01"), a negative zero ("-0"), an integer written with an exponent ("1E3", the
# shape of codes; "1e-05"), or 16 or more integer digits (float64 holds 15 exactly, so
# "123456789012345678901" would collide with its neighbours). Decimals keep converting, trailing
# zeros and exponents included ("11.60", "1.5e-07"): they are measurements.
_TEXT_LOST_AS_NUMBER = re.compile(r"\+.*|-?0\d.*|-0(?:\.0*)?|-?\d+[eE][+-]?\d+|-?\d{16,}.*", re.DOTALL)


def read_table(source: str | Path | bytes | bytearray, filename: str | None = None) -> pd.DataFrame:
    """Read a cohort table from a CSV, TSV or XLSX file.

    Parameters
    ----------
    source : path or bytes
        A file path (a regular file: devices, FIFOs and folders are refused before opening), or
        the file's content (e.g. from an upload).
    filename : str, optional
        The file's name; required with bytes, to know the format from its extension
        (.csv, .tsv, .tab, .txt with the delimiter sniffed, .xlsx).

    Returns
    -------
    pandas.DataFrame
        The table as read, column names stripped of surrounding spaces, rows in file order (empty rows
        after the last filled one left out; an empty row inside the table is kept). Cells are read as text and
        a column becomes numbers only when every value in it is a number *and* no value's text
        would be lost by the conversion: a column stays text if any value has a leading ``+``,
        leading zeros (``007``), a negative zero (``-0``), an integer written with an exponent
        (``1E3``, ``1e-05``) or 16 or more integer digits. So patient IDs such as ``001``,
        ``1E3`` or a 21-digit number keep their text, while measurements (``11.60``, ``-3``,
        ``2.5e-07``) become numbers; mixed columns stay text for validation to report. Thousands
        separators (``1,000``) are not numbers.

    Raises
    ------
    RadNomoError
        If the file is missing, not a regular file, empty, of an unsupported type, not a table,
        has duplicate or blank column names, is larger than the limits (:data:`MAX_TABLE_BYTES`,
        :data:`MAX_TABLE_ROWS`, :data:`MAX_TABLE_COLUMNS`, :data:`MAX_TABLE_CELLS`,
        :data:`MAX_UNPACKED_BYTES`; all checked before parsing), or is a workbook with formulas
        whose values were never saved.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        if not filename:
            raise RadNomoError("a file name (with its extension) is needed to read uploaded bytes.")
        name = filename
        _check_suffix(name)
        _check_file_size(len(source), name)
        data = bytes(source)
    else:
        path = Path(source)
        name = path.name
        with open_regular_file(path, "table file") as handle:  # refuses missing files, devices, FIFOs, folders
            _check_suffix(name)
            _check_file_size(os.fstat(handle.fileno()).st_size, name)
            data = handle.read(MAX_TABLE_BYTES + 1)
        _check_file_size(len(data), name)  # the file grew while being read
    suffix = _suffix(name)
    if not data or data.isspace():
        raise RadNomoError(f"'{name}' is empty.")
    with _reading(name, "a .xlsx workbook" if suffix == ".xlsx" else "a text table"):
        notes: list[str] = []
        frame = _read_excel(data, name) if suffix == ".xlsx" else \
            _read_delimited(data, name, _TABLE_SUFFIXES[suffix], notes)
        # The limits were checked before parsing; this is the backstop for what a count cannot see.
        if len(frame) > MAX_TABLE_ROWS or frame.shape[1] > MAX_TABLE_COLUMNS:
            raise RadNomoError(f"'{name}' has {len(frame):,} rows and {frame.shape[1]:,} columns; RadNomo reads "
                               f"tables of up to {MAX_TABLE_ROWS:,} patients and {MAX_TABLE_COLUMNS:,} columns.")
        frame = _tidy_columns(frame, name)
    if notes:
        frame.attrs[READ_NOTES] = notes
    return frame


@contextlib.contextmanager
def _reading(name: str, what: str) -> Iterator[None]:
    """Turn any failure of a parser on a person's file into a RadNomoError naming the file.

    pandas, openpyxl and pyarrow raise many types for broken or hostile input (ValueError,
    KeyError, zipfile.BadZipFile, pyarrow.ArrowInvalid, UnicodeDecodeError, RecursionError for
    deep nesting, MemoryError); a person needs to know which file and what to do, not a trace.
    """
    try:
        yield
    except RadNomoError:
        raise
    except MemoryError as error:
        raise RadNomoError(f"'{name}' needs more memory to read than this server has; make the table smaller "
                           "(fewer rows or columns, shorter text) or save it as CSV.") from error
    except Exception as error:  # any parser failure on a person's file is bad input, not a crash
        raise RadNomoError(f"'{name}' could not be read as {what} ({type(error).__name__}: {_clipped(error)}); "
                           "save it again from its program, as CSV (UTF-8) or .xlsx.") from error


def _clipped(error: BaseException, length: int = 200) -> str:
    """An exception's text, cut to ``length`` characters (a parser may quote a whole line or cell)."""
    text = str(error)
    return text if len(text) <= length else text[:length] + "..."


def _suffix(name: str) -> str:
    return Path(name).suffix.lower()


def _check_suffix(name: str) -> None:
    suffix = _suffix(name)
    if suffix not in _TABLE_SUFFIXES:
        raise RadNomoError(f"'{name}' has an unsupported extension '{suffix or '(none)'}'; "
                           f"use one of {', '.join(sorted(_TABLE_SUFFIXES))}.")


def _check_file_size(size: int, name: str) -> None:
    if size > MAX_TABLE_BYTES:
        raise RadNomoError(f"'{name}' is {size / 1e6:,.0f} MB; RadNomo reads tables of up to "
                           f"{MAX_TABLE_BYTES / 1e6:,.0f} MB (MAX_TABLE_BYTES). Remove unused columns or rows.")


def _check_extent(name: str, rows: int, columns: int, where: str = "") -> None:
    """Refuse ``rows`` data rows (header excluded) by ``columns`` columns above the limits."""
    what = f"'{name}'{where}"
    if rows > MAX_TABLE_ROWS:
        raise RadNomoError(f"{what} has {rows:,} rows; RadNomo reads tables of up to {MAX_TABLE_ROWS:,} patients "
                           "(MAX_TABLE_ROWS).")
    if columns > MAX_TABLE_COLUMNS:
        raise RadNomoError(f"{what} has {columns:,} columns; RadNomo reads tables of up to {MAX_TABLE_COLUMNS:,} "
                           "columns (MAX_TABLE_COLUMNS).")
    if (rows + 1) * columns > MAX_TABLE_CELLS:
        raise RadNomoError(f"{what} spans {rows + 1:,} rows x {columns:,} columns = {(rows + 1) * columns:,} cells; "
                           f"RadNomo reads tables of up to {MAX_TABLE_CELLS:,} cells (MAX_TABLE_CELLS).")


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------


def _read_excel(data: bytes, name: str) -> pd.DataFrame:
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise RadNomoError(f"'{name}' is not a valid .xlsx workbook; save it from your spreadsheet as .xlsx or CSV.")
    _check_workbook(data, name)
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


def _local(tag: str) -> str:
    """An XML tag without its namespace (transitional and strict Open XML use different ones)."""
    return tag.rpartition("}")[2]


def _check_workbook(data: bytes, name: str) -> None:
    """Refuse a workbook whose parts or worksheets exceed the limits, before openpyxl parses it.

    The worksheets' real extent is found by streaming their XML (the declared ``<dimension>`` can
    lie either way, and pandas pads every row up to the last used row and column), counting only
    cells that hold a value or a formula. Formulas without a saved value are refused: openpyxl
    reads them as empty, which would turn a computed column into missing values.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise RadNomoError(f"'{name}' is not a valid .xlsx workbook ({error}); save it as .xlsx or CSV.") from error
    with archive:
        parts = archive.infolist()
        if len(parts) > MAX_WORKBOOK_PARTS:
            raise RadNomoError(f"'{name}' has {len(parts):,} parts; a workbook has a few dozen at most "
                               f"(MAX_WORKBOOK_PARTS = {MAX_WORKBOOK_PARTS:,}). Save the sheet as CSV.")
        # zipfile never returns more than a member's declared size, so the declared sizes bound
        # what openpyxl will read.
        unpacked = sum(part.file_size for part in parts)
        if unpacked > MAX_UNPACKED_BYTES:
            raise RadNomoError(f"'{name}' unpacks to {unpacked / 1e6:,.0f} MB of XML; RadNomo reads workbooks of up "
                               f"to {MAX_UNPACKED_BYTES / 1e6:,.0f} MB unpacked (MAX_UNPACKED_BYTES). Save the "
                               "sheet as CSV.")
        titles = _sheet_titles(archive)
        for part in parts:
            if not part.is_dir():
                _check_worksheet(archive, part, titles.get(part.filename, part.filename), name)


def _sheet_titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """{worksheet part name: sheet title} from the workbook and its relationships, for messages only."""
    try:
        targets = {}
        for _, element in ElementTree.iterparse(archive.open("xl/_rels/workbook.xml.rels")):
            if _local(element.tag) == "Relationship" and element.get("Type", "").endswith("/worksheet"):
                target = element.get("Target", "")
                targets[element.get("Id")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        titles = {}
        for _, element in ElementTree.iterparse(archive.open("xl/workbook.xml")):
            if _local(element.tag) == "sheet":
                relation = next((v for k, v in element.attrib.items() if _local(k) == "id"), None)
                if relation in targets:
                    titles[targets[relation]] = element.get("name", targets[relation])
        return titles
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError):
        return {}  # names are a nicety; the checks below look at every part


_CELL_REFERENCE = re.compile(r"([A-Za-z]{1,3})(\d+)")


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number


class _StopScan(Exception):
    """Raised from inside the XML parser to end a scan early."""


class _SheetScan:
    """Expat handlers that find a worksheet's used range and its formula cells without saved values.

    Only cells holding a value (``<v>`` with text, an inline string) or a formula count; rows and
    cells without an ``r`` attribute follow the previous one, as in openpyxl. Expat with plain
    handlers is about twice as fast as ElementTree.iterparse and keeps no tree at all.
    """

    def __init__(self) -> None:
        self.is_sheet: bool | None = None
        self.row = self.column = self.cell_row = self.cell_column = 0
        self.last_row = self.last_column = 0
        self.has_value = self.has_formula = self.in_value = False
        self.cell_type = ""
        self.unsaved: list[str] = []

    def start(self, name: str, attributes: dict[str, str]) -> None:
        tag = name.rpartition(" ")[2]
        if self.is_sheet is None:
            self.is_sheet = tag == "worksheet"
            if not self.is_sheet:
                raise _StopScan
        if tag == "c":
            match = _CELL_REFERENCE.fullmatch(attributes.get("r", ""))
            if match:
                self.column, self.cell_row = _column_number(match.group(1)), int(match.group(2))
            else:
                self.column, self.cell_row = self.column + 1, self.row
            self.cell_column = self.column
            self.has_value = self.has_formula = False
            self.cell_type = attributes.get("t", "")
        elif tag == "row":
            number = attributes.get("r", "")
            self.row = int(number) if number.isdigit() else self.row + 1
            self.column = 0
        elif tag == "v":
            self.in_value = True
            self.has_value = self.has_value or self.cell_type == "str"  # a formula's empty text result
        elif tag == "is":
            self.has_value = True
        elif tag == "f":
            self.has_formula = True

    def text(self, data: str) -> None:
        if self.in_value and data:
            self.has_value = True

    def end(self, name: str) -> None:
        tag = name.rpartition(" ")[2]
        if tag == "v":
            self.in_value = False
        elif tag == "c":
            if self.has_formula and not self.has_value:
                self.unsaved.append(f"{_column_letters(self.cell_column)}{self.cell_row}")
            if self.has_value or self.has_formula:
                self.last_row = max(self.last_row, self.cell_row)
                self.last_column = max(self.last_column, self.cell_column)
                # Stop at the first cell past a limit: scanning on would only cost time.
                if self.last_row - 1 > MAX_TABLE_ROWS or self.last_column > MAX_TABLE_COLUMNS \
                        or self.last_row * self.last_column > MAX_TABLE_CELLS:
                    raise _StopScan


def _check_worksheet(archive: zipfile.ZipFile, part: zipfile.ZipInfo, title: str, name: str) -> None:
    """Stream one part; if it is a worksheet, refuse an extent over the limits or unsaved formulas."""
    where = f", sheet '{title}',"
    with archive.open(part) as stream:
        head = stream.read(4096)
    if not head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return  # not XML (an image, a binary part): never a worksheet
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:  # never in Office XML; entity expansion is a bomb
        raise RadNomoError(f"'{name}' part '{part.filename}' declares XML entities; save the workbook again or as CSV.")
    scan = _SheetScan()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler = scan.start, scan.end
    parser.CharacterDataHandler = scan.text
    try:
        with archive.open(part) as stream:
            parser.ParseFile(stream)
    except _StopScan:
        pass
    except expat.ExpatError as error:
        if not scan.is_sheet:
            return  # not a well-formed XML document: not a worksheet either
        raise RadNomoError(f"'{name}'{where[:-1]} is not valid XML ({error}); save the workbook again or as CSV.") \
            from error
    if not scan.is_sheet:
        return
    if scan.last_row:
        last_cell = f"{_column_letters(scan.last_column)}{scan.last_row}"
        try:
            _check_extent(name, scan.last_row - 1, scan.last_column,
                          where=f"{where} whose used range ends at cell {last_cell} (row {scan.last_row:,}),")
        except RadNomoError as error:
            raise RadNomoError(f"{error} Delete stray cells outside the table (Ctrl+End shows the last used cell) "
                               "or save the sheet as CSV.") from None
    if scan.unsaved:
        raise RadNomoError(f"'{name}'{where} has {len(scan.unsaved):,} formula cell(s) without a saved value (e.g. "
                           f"{', '.join(scan.unsaved[:3])}); they would read as empty. Open the workbook in your "
                           "spreadsheet and save it (so the values are stored), paste the values, or export CSV.")


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters or "A"


def _header_from_first_row(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty:
        raise RadNomoError(f"'{name}' has no rows.")
    header = ["" if pd.isna(v) else level_text(v) for v in frame.iloc[0]]
    body = frame.iloc[1:].reset_index(drop=True)
    body.columns = header
    return body


# ---------------------------------------------------------------------------------------------
# CSV / TSV / TXT
# ---------------------------------------------------------------------------------------------


def _line_count(data: bytes) -> int:
    """Lines in ``data`` (an upper bound on a CSV's rows: quoted cells may hold line breaks).

    Counting bytes is linear and allocates nothing; both \\n and a lone \\r end a line for pandas.
    """
    end = len(data)
    while end and data[end - 1] in b"\r\n\t ":  # trailing blank lines are not rows
        end -= 1
    tail = data[end:]
    breaks = max(data.count(b"\n") - tail.count(b"\n"), data.count(b"\r") - tail.count(b"\r"))
    return breaks + 1


def _first_line(text: str) -> str:
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    return text[:min(ends)] if ends else text


def _read_delimited(data: bytes, name: str, delimiter: str | None, notes: list[str]) -> pd.DataFrame:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with a byte-order mark (Excel's "Unicode text")
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError as error:
            raise RadNomoError(f"'{name}' starts as UTF-16 text but byte {error.start:,} is not UTF-16 (the file is "
                               "cut short or damaged); export it again as CSV (UTF-8).") from error
    if b"\x00" in data[:4096]:
        raise RadNomoError(f"'{name}' looks like a binary file (or UTF-16 text without a byte-order mark), not a "
                           "text table; export it as CSV (UTF-8).")
    lines = _line_count(data)
    if lines - 1 > MAX_TABLE_ROWS:
        raise RadNomoError(f"'{name}' has {lines - 1:,} lines after the header; RadNomo reads tables of up to "
                           f"{MAX_TABLE_ROWS:,} patients (MAX_TABLE_ROWS).")
    text = _decoded_text(data, name, notes)
    header = _first_line(text)
    if delimiter == "," and "," not in header:
        # A "CSV" from a European spreadsheet is often separated by semicolons.
        delimiter = next((d for d in (";", "\t", "|") if d in header), ",")
    if delimiter is None:
        try:
            delimiter = _sniff_delimiter(text)
        except RadNomoError as error:
            raise RadNomoError(f"'{name}': {error}") from error
    # The header's separators bound the columns (a quoted header may hold some: an upper bound);
    # pandas would spend minutes and gigabytes on a million-column header before any check.
    _check_extent(name, lines - 1, header.count(delimiter) + 1)
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
    return frame


# One well-formed UTF-8 sequence of two to four bytes (RFC 3629: no overlongs, no surrogates).
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                            rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                            rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_NOT_DECODED = re.compile("[\udc80-\udcff]")  # bytes that surrogateescape could not decode


def _decoded_text(data: bytes, name: str, notes: list[str]) -> str:
    """A text table's bytes as text: UTF-8, or wholly Windows-1252; never a mix re-decoded silently.

    UTF-8 (with or without a byte-order mark) is read as it is. A file with no UTF-8 sequence at
    all (every byte above 127 stands alone, as Excel's "CSV" on Windows writes) is read as
    Windows-1252 (Latin-1 where a byte is undefined there) and a note says so. A file with both
    UTF-8 and bytes that are not is refused, naming the lines and bytes: decoding all of it as
    Latin-1 would turn every "Zürich" into "ZÃ¼rich" and split a category in two, silently.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if not _UTF8_SEQUENCE.search(data):
        try:
            text, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "Latin-1"
        notes.append(f"'{name}' is not UTF-8; it was read as {encoding} text (accented letters as Excel on Windows "
                     "writes them). Check them in the table; saving as 'CSV UTF-8' avoids the guess.")
        return text
    text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="surrogateescape")
    places, line, counted = [], 1, 0
    for match in itertools.islice(_NOT_DECODED.finditer(text), 3):  # three places; a line and byte each
        line += text.count("\n", counted, match.start())  # counted on from the previous bad byte
        counted = match.start()
        places.append(f"line {line:,}, byte 0x{ord(match.group()) - 0xDC00:02x}")
    count = sum(1 for _ in _NOT_DECODED.finditer(text))
    shown = ", ".join(places) + (f" and {count - 3:,} more" if count > 3 else "")
    raise RadNomoError(f"'{name}' mixes text encodings: it is UTF-8, but {count:,} byte(s) are not ({shown}); read "
                       "as one or the other, some letters would change silently (\"Zürich\" -> \"ZÃ¼rich\"). Fix "
                       "those lines and save the file as UTF-8 (in Excel: Save As > \"CSV UTF-8\").")


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text[:65536].splitlines()[:20])  # the first lines only: never split the whole file
    counts = {d: head.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        raise RadNomoError("no column separator (comma, tab, semicolon or bar) found; is this a table?")
    return best


def _tidy_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    if frame.empty or frame.shape[1] == 0:
        raise RadNomoError(f"'{name}' has no data rows.")
    columns = [str(c).strip() for c in frame.columns]
    blank = [i + 1 for i, c in enumerate(columns) if not c or c.startswith("Unnamed:")]
    if blank:
        raise RadNomoError(f"'{name}' has {len(blank):,} column(s) without a header (position {listed(blank)}); give "
                           "every column a name, or delete the empty columns.")
    counts = pd.Series(columns).value_counts()
    duplicated = sorted(counts.index[counts > 1])
    if duplicated:
        raise RadNomoError(f"'{name}' has duplicate column names ({listed(repr(c) for c in duplicated)}); rename "
                           "them so that each column has its own name.")
    frame.columns = columns
    # Only the empty rows after the last filled one go (a spreadsheet's formatted tail): an empty row inside
    # the table is a patient row with nothing filled in, so row numbers (row IDs, the file lines a message
    # names) stay those of the file; its blank ID then leaves it out with a count (cohort.without_blank_ids).
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    frame = frame.iloc[: filled[-1] + 1 if len(filled) else 0].reset_index(drop=True)
    # Text cells were read as text so that nothing is silently coerced; columns that are wholly
    # numeric become numbers now, unless some value's text would be lost (see read_table), and
    # mixed ones stay text for validation to report.
    for column in frame.columns:
        values = frame[column]
        converted = pd.to_numeric(values, errors="coerce")
        if converted.notna().sum() == values.notna().sum() and not _text_would_be_lost(values):
            frame[column] = converted
    return frame


def _text_would_be_lost(values: pd.Series) -> bool:
    """Whether some text cell of a numeric-looking column would not come back from its number."""
    text = values[values.map(lambda v: isinstance(v, str))]
    return bool(len(text)) and bool(text.str.strip().str.fullmatch(_TEXT_LOST_AS_NUMBER).any())


# ---------------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------------


def read_any_table(data: bytes, filename: str) -> pd.DataFrame:
    """A clinical or feature table from bytes: Parquet (never pickle), or CSV/TSV/XLSX via :func:`read_table`.

    A Parquet file is read in two steps, each bounded before it runs. Its footer (row and column
    counts, values, uncompressed size, column types and encodings) is checked against
    :data:`MAX_TABLE_ROWS`, :data:`MAX_TABLE_COLUMNS`, :data:`MAX_TABLE_CELLS`,
    :data:`MAX_UNPACKED_BYTES` and :data:`MAX_DECODED_BYTES` before any data is read: its encodings
    let a few kilobytes declare millions of rows. Text columns are then read as dictionaries (each
    distinct value once, plus one small index per row), and their *decoded* size (every row's
    text length) is summed and checked against :data:`MAX_DECODED_BYTES` before the text is
    expanded: a dictionary page copies one value into every row, so a 2 KB file can otherwise
    become a gigabyte frame. Date and time columns stay dates (see
    :func:`core.stats.cohort.validate_cohort`, which refuses them as continuous variables).

    Parameters
    ----------
    data : bytes
        The file's content.
    filename : str
        Its name; ``.parquet`` selects Parquet, any other extension :func:`read_table`.

    Returns
    -------
    pandas.DataFrame
        The table, with the index that pandas saved in the file (if any).

    Raises
    ------
    RadNomoError
        If the file is not readable, is over the limits, has duplicate column names, nested
        (list, struct, map) columns, or text encoded so that its decoded size cannot be bounded
        before reading (``DELTA_BYTE_ARRAY``).
    """
    if filename.lower().endswith(".parquet"):
        _check_file_size(len(data), filename)
        with _reading(filename, "a Parquet file"):
            return _read_parquet(data, filename)
    return read_table(data, filename)


# Decoded bytes per value of each Parquet physical type, as Arrow holds it after reading (a
# dictionary-read BYTE_ARRAY costs its 4-byte index; its text is summed after reading, before
# decoding). INT96 is a legacy timestamp (8 bytes once read); a BYTE_ARRAY that is not text is a
# decimal (at most 32 bytes).
_DECODED_WIDTH = {"BOOLEAN": 1, "INT32": 4, "INT64": 8, "INT96": 12, "FLOAT": 4, "DOUBLE": 8, "BYTE_ARRAY": 32}


def _read_parquet(data: bytes, filename: str) -> pd.DataFrame:
    import pyarrow as pa  # pyarrow is heavy: imported only for Parquet files
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        schema = parquet.schema_arrow
    except Exception as error:  # pyarrow raises several types for a broken footer
        raise RadNomoError(f"'{filename}' is not a readable Parquet file ({type(error).__name__}: "
                           f"{_clipped(error)}); save it again, or as CSV.") from error
    text = [field.name for field in schema if _is_text_type(field.type)]
    _check_parquet(parquet, filename, set(text))
    # Text columns come as dictionaries (distinct values once, 4 bytes per row), whatever their
    # encoding in the file: the decoded text is summed before a single value is copied into rows.
    table = pq.ParquetFile(io.BytesIO(data), read_dictionary=text).read(use_pandas_metadata=True)
    decoded = sum(_decoded_bytes(table.column(i)) for i in range(table.num_columns))
    if decoded > MAX_DECODED_BYTES:
        raise RadNomoError(f"'{filename}' decodes to {_size(decoded)} (its text repeated into every row); "
                           f"RadNomo reads tables of up to {_size(MAX_DECODED_BYTES)} decoded "
                           "(MAX_DECODED_BYTES). Remove long text columns, or save the table as CSV.")
    for name in text:  # back to plain text, as pandas.read_parquet gives it
        position = table.schema.get_field_index(name)
        column = table.column(position)
        plain = pa.chunked_array([chunk.dictionary_decode() for chunk in column.chunks],
                                 type=column.type.value_type)
        table = table.set_column(position, table.schema.field(position).with_type(plain.type), plain)
    return table.to_pandas()


def _is_text_type(kind) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind))


def _decoded_bytes(column) -> int:
    """Bytes of a column once every dictionary value is copied into its rows (text: lengths + offsets)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type) and _is_text_type(chunk.type.value_type) and len(chunk):
            lengths = pc.binary_length(chunk.dictionary).cast(pa.int64())
            total += int(pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0) + 8 * len(chunk)
        else:
            total += chunk.nbytes
    return total


def _check_parquet(parquet, filename: str, text: set[str]) -> None:
    """Refuse a Parquet file over the limits, from its footer alone (nothing decoded yet)."""
    import pyarrow as pa

    metadata = parquet.metadata
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    rows = max(metadata.num_rows, sum(group.num_rows for group in groups))
    columns = metadata.num_columns
    _check_extent(filename, rows, columns)
    unpacked = sum(group.total_byte_size for group in groups)
    if unpacked > MAX_UNPACKED_BYTES:
        raise RadNomoError(f"'{filename}' holds {unpacked / 1e6:,.0f} MB of uncompressed data; RadNomo reads tables "
                           f"of up to {MAX_UNPACKED_BYTES / 1e6:,.0f} MB (MAX_UNPACKED_BYTES).")
    schema = parquet.schema_arrow
    counts = collections.Counter(str(name) for name in schema.names)
    duplicated = sorted(name for name, count in counts.items() if count > 1)
    if duplicated:
        raise RadNomoError(f"'{filename}' has duplicate column names ({listed(repr(c) for c in duplicated)}); "
                           "rename them so that each column has its own name.")
    nested = [field.name for field in schema if pa.types.is_nested(field.type)]
    if nested:
        raise RadNomoError(f"'{filename}' has columns holding lists or records ({listed(nested)}); RadNomo reads flat "
                           "tables of one value per cell: flatten them, or save the table as CSV.")
    if len(groups) * columns > 1_000_000:  # never loop over a footer this size (no writer makes one)
        raise RadNomoError(f"'{filename}' has {len(groups):,} row groups of {columns:,} columns; save it again with "
                           "fewer row groups (pandas' to_parquet writes one per million rows) or as CSV.")
    values = sum(group.column(i).num_values for group in groups for i in range(group.num_columns))
    if values > MAX_TABLE_CELLS:
        raise RadNomoError(f"'{filename}' holds {values:,} values; RadNomo reads tables of up to "
                           f"{MAX_TABLE_CELLS:,} cells (MAX_TABLE_CELLS).")
    # What reading allocates before the text's own check: fixed-width values, 4-byte indices for
    # text, and the text dictionaries (at most the uncompressed data).
    reading = unpacked
    for group in groups:
        for i in range(group.num_columns):
            chunk = group.column(i)
            if "DELTA_BYTE_ARRAY" in chunk.encodings:
                # Each value there repeats a prefix of the previous one: its decoded size is unknown
                # until every value is built, one by one.
                raise RadNomoError(f"'{filename}' column '{chunk.path_in_schema}' uses the DELTA_BYTE_ARRAY encoding, "
                                   "whose decoded size cannot be checked before reading; save the table again with "
                                   "the default encoding (pandas' to_parquet does) or as CSV.")
            kind = parquet.schema.column(i)
            if kind.name in text:
                width = 4
            elif kind.physical_type == "FIXED_LEN_BYTE_ARRAY":
                width = kind.length
            else:
                width = _DECODED_WIDTH.get(kind.physical_type, 8)
            reading += chunk.num_values * max(width, 1)
    if reading > MAX_DECODED_BYTES:
        raise RadNomoError(f"'{filename}' holds {values:,} values that decode to {_size(reading)}; RadNomo "
                           f"reads tables of up to {_size(MAX_DECODED_BYTES)} decoded (MAX_DECODED_BYTES).")


def _size(count: int) -> str:
    """A byte count for a message: '902 MB', or '5,000 bytes' below 10 MB (where MB would round to nothing)."""
    return f"{count / 1e6:,.0f} MB" if count >= 10_000_000 else f"{count:,} bytes"


# ---------------------------------------------------------------------------------------------
# Writing CSV for download
# ---------------------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection");
# full-width forms are included because some spreadsheets (Japanese locales) read them alike.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _escape_cell(value: object) -> object:
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_STARTS) \
            and not _PLAIN_NUMBER.fullmatch(value.strip()):
        return "'" + value
    return value


def _escape_labels(labels: pd.Index) -> pd.Index:
    if isinstance(labels, pd.MultiIndex):
        return labels.set_levels([level.map(_escape_cell) for level in labels.levels])
    return labels.map(_escape_cell) if not pd.api.types.is_numeric_dtype(labels) else labels


def csv_bytes(frame: pd.DataFrame, *, index: bool = False) -> bytes:
    """The frame as UTF-8 CSV bytes, with text that a spreadsheet would run as a formula defused.

    Text cells (and column and index labels) that start with ``=``, ``+``, ``-``, ``@``, a tab,
    a carriage return or a line feed (after leading spaces; full-width forms too) get a single
    quote in front, as OWASP recommends against CSV injection: ``=HYPERLINK(...)`` becomes
    ``'=HYPERLINK(...)``, which a spreadsheet shows as text. Numbers, including negative numbers
    and text that is a plain number such as ``-5``, are left untouched.

    Parameters
    ----------
    frame : pandas.DataFrame
    index : bool, default False
        Write the index as the first column(s).

    Returns
    -------
    bytes
        The CSV (``DataFrame.to_csv`` format with RFC 4180 CRLF line ends, so that a cell holding
        a carriage return is quoted like one holding a line feed), encoded as UTF-8.
    """
    out = frame.copy()
    for position in range(out.shape[1]):
        column = out.iloc[:, position]
        if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column)):
            out.isetitem(position, column.astype(object).map(_escape_cell))
    out.columns = _escape_labels(out.columns)
    if index:
        out.index = _escape_labels(out.index)
        out.index.names = [_escape_cell(n) for n in out.index.names]
    return out.to_csv(index=index, lineterminator="\r\n").encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame (index kept) as Parquet bytes, for a download."""
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


# Columns that hold p-values, by name (lower case): written as every table of RadNomo writes them.
_P_COLUMNS = ("p", "p_value", "p value", "variable_p", "hl_p", "p_holm")


def screen_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for the screen: p-values written as every table of RadNomo writes them ("< 0.001",
    :func:`core.vocabulary.format_p`), other numbers rounded to ``digits`` (so 9e-30 never shows as a cut-off
    string of zeros)."""
    from core.vocabulary import format_p

    shown = table.copy()
    for column in shown.columns:
        name = str(column).lower()
        if name in _P_COLUMNS or name.endswith(" p") or name.startswith("p ("):
            shown[column] = shown[column].map(format_p)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(digits)
    return shown


def read_notes(frame: pd.DataFrame) -> list[str]:
    """What reading a table noted about it (e.g. the encoding it was read in), to show beside it."""
    return list(frame.attrs.get(READ_NOTES, ()))
