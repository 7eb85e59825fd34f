"""The one exception type RadNomo raises for bad input, and its warning types."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["RadNomoError", "RadNomoWarning", "listed"]

#: How many items (positions, names, IDs) a message lists before "and N more".
SHOWN = 5


class RadNomoError(ValueError):
    """Input that RadNomo cannot use; the message says what was wrong, where, and what to do.

    A ``ValueError`` subclass, so generic callers that catch ``ValueError`` keep working.
    """


class RadNomoWarning(UserWarning):
    """A statistical or data caveat that does not stop the analysis."""


def listed(items: Iterable[object], shown: int = SHOWN) -> str:
    """The first ``shown`` items and a count of the rest, for a message: ``'2, 3, 4, 5, 6 and 15,995 more'``.

    Parameters
    ----------
    items : iterable
        What the message names (column positions, names, IDs), in the order to show.
    shown : int
        How many to write out.

    Returns
    -------
    str
        The items joined by ", ", then " and N more" when there are more than ``shown``: a message
        about 16,000 columns stays one line long.
    """
    items = list(items)
    head = ", ".join(str(item) for item in items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown:,} more"
