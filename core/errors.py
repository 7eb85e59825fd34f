"""The one exception type RadNomo raises for bad input, and its warning types."""

from __future__ import annotations

__all__ = ["RadNomoError", "RadNomoWarning"]


class RadNomoError(ValueError):
    """Input that RadNomo cannot use; the message says what was wrong, where, and what to do.

    A ``ValueError`` subclass, so generic callers that catch ``ValueError`` keep working.
    """


class RadNomoWarning(UserWarning):
    """A statistical or data caveat that does not stop the analysis."""
