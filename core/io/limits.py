"""Size limits a deployment can adjust: ``RADNOMO_<NAME>`` in the environment overrides a limit's default.

Every limit that guards the server against oversized or hostile input (table bytes, rows, columns and cells
before parsing; image voxels before reading and after the planned resampling; header and archive sizes) is
declared with :func:`limit` in the module that enforces it, e.g. ``MAX_TABLE_ROWS = limit("MAX_TABLE_ROWS",
100_000)``; ``RADNOMO_MAX_TABLE_ROWS=500000 streamlit run app.py`` raises it for that server. The README's
Safety section lists them all.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from core.errors import RadNomoError

__all__ = ["limit", "LIMITS", "MAX_JSON_BYTES", "read_json_limited", "whole_number_in_range", "finite_number_in_range"]

#: Every limit declared so far: name -> value in force (for the README and the tests).
LIMITS: dict[str, int] = {}


def limit(name: str, default: int) -> int:
    """The value of limit ``name``: ``RADNOMO_<name>`` from the environment when set, else ``default``.

    Raises
    ------
    RadNomoError
        If the environment's value is not a positive whole number (the server then refuses to start with
        a message naming the variable, rather than run without the limit).
    """
    text = os.environ.get(f"RADNOMO_{name}")
    if text is None:
        value = default
    else:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            value = 0
        if value <= 0:
            raise RadNomoError(f"RADNOMO_{name}={text!r} must be a positive whole number (default {default:,}).")
    LIMITS[name] = value
    return value


#: Largest JSON document read before parsing (a study's ``study.json``, saved models, run records): 8 MB.
#: A study's description is a few kilobytes and its saved models well under a megabyte; a 1 GB member of
#: a 90 MB study zip would otherwise be parsed in full and exhaust the server's memory.
MAX_JSON_BYTES = limit("MAX_JSON_BYTES", 8_000_000)


def read_json_limited(source: str | Path | bytes, limit_bytes: int | None = None, what: str = "JSON file") -> Any:
    """Parse a JSON document after checking its size, every failure as :class:`RadNomoError`.

    Parameters
    ----------
    source : path or bytes
        A file (its size is read from the file system before a byte of it is) or the document's bytes.
    limit_bytes : int, optional
        Largest accepted size in bytes; :data:`MAX_JSON_BYTES` by default.
    what : str
        What the document is, for the messages (e.g. ``"study.json of 'archive.zip'"``).

    Returns
    -------
    object
        The parsed document (dict, list, str, number, bool or None).

    Raises
    ------
    RadNomoError
        If the file is missing or unreadable, larger than the limit, not UTF-8, not JSON, nested too
        deeply for the parser (``RecursionError``), or holds a number too long to convert
        (``ValueError`` for integers over Python's digit limit).
    """
    limit_bytes = MAX_JSON_BYTES if limit_bytes is None else int(limit_bytes)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, size = bytes(source), len(source)
        if size > limit_bytes:
            raise RadNomoError(f"{what} is {size:,} bytes; at most {limit_bytes:,} are read "
                               f"(RADNOMO_MAX_JSON_BYTES raises the limit).")
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > limit_bytes:
                raise RadNomoError(f"{what} '{path.name}' is {size:,} bytes; at most {limit_bytes:,} are read "
                                   f"(RADNOMO_MAX_JSON_BYTES raises the limit).")
            with path.open("rb") as handle:
                data = handle.read(limit_bytes + 1)  # the file may have grown since stat()
        except OSError as error:
            raise RadNomoError(f"{what} '{path}' cannot be read ({error.strerror or error}).") from error
        if len(data) > limit_bytes:
            raise RadNomoError(f"{what} '{path.name}' is over {limit_bytes:,} bytes; refused.")
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise RadNomoError(f"{what} is not UTF-8 text (byte {error.start}); it is damaged or not JSON.") from error
    except json.JSONDecodeError as error:
        raise RadNomoError(f"{what} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
                           "it is damaged or was edited by hand.") from error
    except RecursionError as error:
        raise RadNomoError(f"{what} is nested too deeply to be read; it is damaged or hostile.") from error
    except ValueError as error:  # e.g. an integer longer than Python's 4,300-digit conversion limit
        raise RadNomoError(f"{what} holds a value that cannot be read ({error}).") from error


def whole_number_in_range(value: object, low: int, high: int, what: str) -> int:
    """``value`` as an int when it is a whole number in ``[low, high]``; otherwise a RadNomoError naming ``what``.

    Accepts ints, whole floats (``3.0``) and their text (``"3"``, ``"1_000"``); refuses booleans,
    fractions, NaN, infinities and numbers outside the range. The check behind every count a person
    sets (resamples, repeats, folds, workers, epochs, crop sizes, seeds), on the command line and in pages.
    """
    number: float | int | None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = float(str(value).strip().replace("_", "")) if isinstance(value, str) \
                else float(value)  # type: ignore[arg-type]  # any other object: float() says whether it is a number
        except (TypeError, ValueError, OverflowError):
            number = None
        if number is not None and (not math.isfinite(number) or number != int(number)):
            number = None
    if number is None:
        raise RadNomoError(f"{what} = {str(value)[:40]!r} must be a whole number from {low:,} to {high:,}.")
    if not low <= number <= high:
        raise RadNomoError(f"{what} = {str(value)[:40]} is out of range; it must lie from {low:,} to {high:,}.")
    return int(number)


def finite_number_in_range(value: object, low: float, high: float, what: str, *, open_low: bool = False) -> float:
    """``value`` as a float when it is finite and in ``[low, high]`` (``(low, high]`` with ``open_low``).

    Refuses NaN, infinities, text that is not a number and values outside the range, with a
    RadNomoError naming ``what`` and the range (thresholds, fractions, learning rates).
    """
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number):
        raise RadNomoError(f"{what} = {str(value)[:40]!r} must be a finite number from {low:g} to {high:g}.")
    if number < low or number > high or (open_low and number == low):
        bound = f"be above {low:g} and at most {high:g}" if open_low else f"lie from {low:g} to {high:g}"
        raise RadNomoError(f"{what} = {number:g} is out of range; it must {bound}.")
    return number
