"""The report's section headings and the HTML anchor of each: what a reporting-checklist item's "where" links to
(:mod:`core.workflows.study_checklists`) and what :mod:`core.workflows.report` prints before each heading. A module of
its own so that both import it (the report builds the checklists; the checklists name the report's sections)."""

from __future__ import annotations

__all__ = ["SECTION_ANCHORS", "section_anchor"]

#: Report heading -> the ``id`` of its section (every heading :func:`_layout` can print, for every outcome kind, and
#: the Methods heading printed after Settings): what a checklist item's "where" links to
#: (core.workflows.study_checklists). A new report section adds its heading here.
SECTION_ANCHORS: dict[str, str] = {
    "Settings": "settings", "Methods": "methods", "Warnings": "warnings",
    "Missing values and exclusions": "missing", "Participant flow": "participant-flow",
    "Participants": "participants", "Table 1": "table-1",
    "Sample size": "sample-size", "Feature selection": "feature-selection", "Selected features": "selected-features",
    "Models": "models", "Table 2": "table-2", "ROC curves": "roc-curves", "Calibration": "calibration",
    "Decision curves": "decision-curves", "Reclassification": "reclassification", "Nomogram": "nomogram",
    "Kaplan-Meier curves by risk group": "km-curves", "Time-dependent ROC curves": "td-roc-curves",
    "Time-dependent AUC": "td-auc", "Internal validation": "internal-validation",
    "External cohorts": "external-cohorts", "Reporting checklists": "reporting-checklists"}




def section_anchor(heading: str) -> str:
    """The HTML id of the report's section ``heading`` (:data:`SECTION_ANCHORS`)."""
    return SECTION_ANCHORS[heading]
