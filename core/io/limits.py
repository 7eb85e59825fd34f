"""Size limits a deployment can adjust: ``RADNOMO_<NAME>`` in the environment overrides a limit's default.

Every limit that guards the server against oversized or hostile input (table bytes, rows, columns and cells
before parsing; image voxels before reading and after the planned resampling; header and archive sizes) is
declared with :func:`limit` in the module that enforces it, e.g. ``MAX_TABLE_ROWS = limit("MAX_TABLE_ROWS",
100_000)``; ``RADNOMO_MAX_TABLE_ROWS=500000 streamlit run app.py`` raises it for that server. The README's
Safety section lists them all.
"""

from __future__ import annotations

import os

from core.errors import RadNomoError

__all__ = ["limit", "LIMITS"]

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
