"""A study's participant flow (TRIPOD+AI item 20a, CLEAR's study-design items): the patients in the table as
opened, those excluded with each reason, those included, and each cohort (training, test, every external cohort)
with its events; drawn by :func:`core.figures.flow.flow_diagram`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from core.workflows.external import ExternalCohort
from core.workflows.study import Study

__all__ = ["FlowBox", "ParticipantFlow", "participant_flow"]


@dataclass(frozen=True)
class FlowBox:
    """One box of the flow: a stage, its patients and events (None where the stage has no outcome to count), and
    what else it says (how the cohort was drawn, an exclusion's reasons)."""

    stage: str
    patients: int
    events: int | None
    detail: str = ""

    def text(self) -> str:
        """The box's words: "Training cohort: 700 patients, 218 events (random, outcome-stratified)"."""
        counts = f"{self.patients:,} patient{'s' if self.patients != 1 else ''}"
        if self.events is not None:
            counts += f", {self.events:,} event{'s' if self.events != 1 else ''}"
        return f"{self.stage}: {counts}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class ParticipantFlow:
    """The study's participant flow.

    Attributes
    ----------
    assessed : FlowBox
        The patients in the table as it was opened (included + excluded).
    excluded : FlowBox or None
        Patients taken out, with their reasons and counts in ``detail``; None when none was.
    included : FlowBox
    cohorts : tuple of FlowBox
        Training and test (when the study holds one out): drawn from the included patients.
    externals : tuple of FlowBox
        Each external cohort (from elsewhere).
    event_word : str
        What an event is (the outcome's event label), for the diagram's legend.
    """

    assessed: FlowBox
    excluded: FlowBox | None
    included: FlowBox
    cohorts: tuple[FlowBox, ...]
    externals: tuple[FlowBox, ...]
    event_word: str

    def table(self) -> pd.DataFrame:
        """One row per box: ``stage``, ``patients``, ``events`` (empty where not counted), ``detail``."""
        boxes = [self.assessed, *([self.excluded] if self.excluded else []), self.included, *self.cohorts,
                 *self.externals]
        return pd.DataFrame({"stage": [b.stage for b in boxes], "patients": [b.patients for b in boxes],
                             "events": pd.array([b.events for b in boxes], dtype="Int64"),
                             "detail": [b.detail for b in boxes]})

    def boxes(self) -> dict:
        """The diagram's texts, as :func:`core.figures.flow.flow_diagram` takes them (``flow_diagram(**boxes)``)."""
        return {"top": self.assessed.text(), "excluded": self.excluded.text() if self.excluded else None,
                "included": self.included.text(), "cohorts": [box.text() for box in self.cohorts],
                "externals": [box.text() for box in self.externals]}

    def sentences(self) -> list[str]:
        """The flow in words, for the report's Methods and Results."""
        words = [f"{self.assessed.patients:,} patients were in the study's table"
                 + (f"; {self.excluded.patients:,} were excluded ({self.excluded.detail})" if self.excluded else
                    "; none was excluded")
                 + f", leaving {self.included.text().split(': ', 1)[1]}."]
        words += [f"{box.text()}." for box in (*self.cohorts, *self.externals)]
        return words


def _events(study: Study, ids: Sequence[str]) -> int:
    return int(study.spec.outcome.n_events(study.cohort.loc[list(ids)]))


def participant_flow(study: Study, externals: Sequence[ExternalCohort] = ()) -> ParticipantFlow:
    """The participant flow of ``study`` and its ``externals``.

    Events are counted with the study's outcome (a binary outcome's 1s, a time-to-event outcome's observed
    events), in every cohort.
    """
    included = len(study.cohort)
    reasons = Counter(why for _, why in study.exclusions)
    excluded = None
    if reasons:
        excluded = FlowBox("Excluded", sum(reasons.values()), None,
                           "; ".join(f"{n:,} for {why}" for why, n in reasons.most_common()))
    config = study.split.config
    how = f"random, outcome-stratified, {1 - config.test_size:.0%} / {config.test_size:.0%}, seed {config.seed}"
    cohorts = [FlowBox("Training cohort", len(study.train_ids), _events(study, study.train_ids),
                       how if study.has_test else "every patient: no held-out test cohort")]
    if study.has_test:
        cohorts.append(FlowBox("Test cohort", len(study.test_ids), _events(study, study.test_ids), "held out"))
    # An external cohort is validated with the study's outcome: its events count.
    others = tuple(FlowBox(f"External cohort '{external.name}'", len(external.cohort),
                           int(study.spec.outcome.n_events(external.cohort)), "; ".join(external.notes))
                   for external in externals)
    return ParticipantFlow(
        assessed=FlowBox("Patients in the table", included + len(study.exclusions), None),
        excluded=excluded,
        included=FlowBox("Included", included, int(study.n_events)),
        cohorts=tuple(cohorts), externals=others, event_word=study.spec.outcome.event_label)
