"""Choosing one labelled item (an RTSTRUCT ROI, a DICOM-SEG or Slicer segment) by its name.

Its own module so that :mod:`core.imaging.extraction.readers` (which dispatches to the RTSTRUCT and
DICOM-SEG readers) and those readers can all use it without importing each other in a circle.
"""

from __future__ import annotations

from core.errors import RadNomoError

__all__ = ["choose_by_name"]


def choose_by_name(labels: dict[int, str], wanted: str | None, *, what: str, where: str) -> int:
    """The number of the item called ``wanted`` among ``labels`` ({number: name}); the only one if None.

    Shared by the RTSTRUCT (ROIs), DICOM-SEG and Slicer (segments) readers.

    Raises
    ------
    RadNomoError
        If there is none, several and no name was given, or none of that name.
    """
    if not labels:
        raise RadNomoError(f"{where} defines no {what}.")
    names = sorted(labels.values())
    if wanted is None:
        if len(labels) > 1:
            raise RadNomoError(f"{where} has {what}s {names}; choose one by name.")
        return next(iter(labels))
    for number, label in labels.items():
        if label == wanted:
            return number
    raise RadNomoError(f"{what} '{wanted}' is not in {where}; {what}s: {names}.")
