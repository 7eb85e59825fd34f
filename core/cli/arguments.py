"""Bounded argparse types shared by the command lines: every number a person types is finite and in range.

``parser.add_argument("--workers", type=bounded_int(1, MAX_WORKERS, "--workers"))`` makes argparse refuse
``--workers 100000`` (or ``-1``, ``2.5``, ``nan``) with a usage message and exit code 2 before anything
runs; the checks themselves are :func:`core.io.limits.whole_number_in_range` and
:func:`core.io.limits.finite_number_in_range`, which the pages use for the same settings.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.stats.outcomes import MAX_HORIZONS, horizons_from_text
from core.io.limits import finite_number_in_range, whole_number_in_range

__all__ = ["bounded_int", "finite_float", "seed", "MAX_SEED", "write_csv", "parse_horizons", "MAX_HORIZONS"]

#: Largest seed accepted (numpy's seeds are 32-bit unsigned at most in the legacy generators): 2**32 - 1.
MAX_SEED = 2**32 - 1
#: Most horizons a time-to-event study takes from the command line (each adds columns to every table).


def bounded_int(low: int, high: int, what: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers in ``[low, high]`` (``what`` names the option in messages)."""
    def parse(text: str) -> int:
        try:
            return whole_number_in_range(text, low, high, what)
        except RadNomoError as error:
            raise argparse.ArgumentTypeError(str(error)) from error
    parse.__name__ = f"whole number {low}..{high}"  # argparse names the type in its fallback message
    return parse


def finite_float(low: float, high: float, what: str, *, open_low: bool = False) -> Callable[[str], float]:
    """An argparse ``type`` accepting finite numbers in ``[low, high]`` (``(low, high]`` with ``open_low``)."""
    def parse(text: str) -> float:
        try:
            return finite_number_in_range(text, low, high, what, open_low=open_low)
        except RadNomoError as error:
            raise argparse.ArgumentTypeError(str(error)) from error
    parse.__name__ = f"number {low:g}..{high:g}"
    return parse


def seed(what: str = "--seed") -> Callable[[str], int]:
    """An argparse ``type`` for a seed: a whole number from 0 to :data:`MAX_SEED` (a seed of -1 is refused)."""
    return bounded_int(0, MAX_SEED, what)


def write_csv(table: pd.DataFrame, path: str | Path, option: str) -> None:
    """Write a command's CSV output; an unwritable path (a name too long, a missing folder, a full disk)
    becomes a RadNomoError naming the option, not an OSError."""
    try:
        table.to_csv(path, index=False)
    except OSError as error:
        raise RadNomoError(f"{option} '{path}' cannot be written ({error.strerror or error}); give a path in a "
                           "writable folder.") from error


def parse_horizons(text: str, what: str = "--horizons") -> tuple[float, ...]:
    """``--horizons`` ("12,36,60") as sorted distinct floats, each finite and > 0 (in the study's time unit):
    :func:`core.stats.outcomes.horizons_from_text`, the one reading of horizons, with ``what`` in its messages."""
    return horizons_from_text(text, what=what, unit="the follow-up's unit")
