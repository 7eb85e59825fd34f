"""The guided tour's numbers: the sample study with the reference study's own clinical model, computed once.

The tour (pages/walkthrough.py) sets RadNomo's numbers beside the published ones: Table 2 of the
study's models, the DL-radiomics screening funnel, Table 3 of the fused model's score and the fused
nomogram. They need the sample study fitted with the study's clinical model (tumour thickness, CEA,
CA19-9), which is not the sample's default; fitting it on a first visit took about 20 s. So they are
computed once (``python -m core.cli.sample_fit``) and stored beside the sample's fit under the tour
study's fingerprint (tests/core/test_sample_fit.py keeps them current); any other study or setting is
computed afresh.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.stats.summaries import table2, training_cutoffs
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.reproduce import STUDY_SETTINGS
from core.workflows.sample import SAMPLE_FIT
from core.workflows.study import EvaluationSettings, Study
from core.workflows.subgroups import compare_subgroup

__all__ = ["TOUR_NUMBERS", "TourNumbers", "tour_study", "compute_tour", "save_tour", "load_tour"]

TOUR_NUMBERS = SAMPLE_FIT.parent / "tour.json.gz"


@dataclass(frozen=True, eq=False)
class TourNumbers:
    """Everything the guided tour shows of RadNomo's side, for one tour study.

    Attributes
    ----------
    fingerprint : str
        The tour study's fingerprint (:func:`tour_study`): the numbers stand for that study only.
    models : StudyModels
        The tour study's fit (without the screening's LASSO paths: ``funnels`` holds what the tour shows).
    predictions : pandas.DataFrame
        :func:`core.workflows.fit.predict_study` of ``models`` (index: patient ID), for the nomogram.
    performance : pandas.DataFrame
        Table 2 (:func:`core.stats.summaries.table2`) of every model, training and test cohorts, at each
        model's Youden cut-off on the training cohort.
    subgroup : pandas.DataFrame
        Table 3 of the fused model's score on the study's subgroup question (empty without a fused model
        or a subgroup question).
    funnels : dict
        Screened family -> its screening funnel (``step``, ``n_features``).
    """

    fingerprint: str
    models: StudyModels
    predictions: pd.DataFrame
    performance: pd.DataFrame
    subgroup: pd.DataFrame
    funnels: dict[str, pd.DataFrame]


def tour_study(study: Study) -> Study:
    """``study`` with the reference study's clinical model (tumour thickness, CEA, CA19-9) and its evaluation
    (Youden cut-offs on the training cohort, Wald intervals), its other settings (screening thresholds, split)
    left as they are."""
    return study.with_settings(clinical_continuous=STUDY_SETTINGS.clinical_continuous,
                               clinical_categorical=STUDY_SETTINGS.clinical_categorical
                               ).replace(evaluation=EvaluationSettings())


def compute_tour(tour: Study, models: StudyModels | None = None) -> TourNumbers:
    """The tour's numbers for the tour study ``tour`` (:func:`tour_study`), fitting it unless ``models`` is its fit.

    Parameters
    ----------
    tour : Study
    models : StudyModels, optional
        ``tour``'s fitted models; fitted here when not given.

    Returns
    -------
    TourNumbers
    """
    models = models if models is not None else fit_study(tour)
    predictions = predict_study(tour, models)
    cutoffs = training_cutoffs(predictions, tour.outcome, tour.train_ids, models.model_names)
    performance = table2(predictions, tour.outcome, tour.cohorts(), cutoffs)
    subgroup = pd.DataFrame()
    if models.fused is not None and models.fused_score is not None and tour.subgroup is not None:
        subgroup = compare_subgroup(tour, predictions, [models.fused_score], tour.subgroup).table
    funnels = {name: result.funnel for name, result in models.screening.items()}
    return TourNumbers(fingerprint=tour.fingerprint, models=models, predictions=predictions,
                       performance=performance, subgroup=subgroup, funnels=funnels)


def _frame_to_dict(frame: pd.DataFrame) -> dict:
    # orient="split" keeps the column order and the index; JSON floats round-trip exactly.
    return {"index_name": frame.index.name, **frame.to_dict(orient="split")}


def _frame_from_dict(values: dict) -> pd.DataFrame:
    frame = pd.DataFrame(values["data"], index=values["index"], columns=values["columns"])
    return frame.rename_axis(values.get("index_name"))


def save_tour(numbers: TourNumbers, path: str | Path = TOUR_NUMBERS) -> Path:
    """Store ``numbers`` as gzip-compressed JSON under their study's fingerprint; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"fingerprint": numbers.fingerprint, "command": "python -m core.cli.sample_fit",
               "models": numbers.models.to_dict(), "predictions": _frame_to_dict(numbers.predictions),
               "performance": _frame_to_dict(numbers.performance), "subgroup": _frame_to_dict(numbers.subgroup),
               "funnels": {name: _frame_to_dict(funnel) for name, funnel in numbers.funnels.items()}}
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(payload, handle)
    return path


def load_tour(tour: Study, path: str | Path = TOUR_NUMBERS) -> TourNumbers | None:
    """The stored tour numbers when they are those of ``tour`` (same fingerprint: data, settings, name); else None.

    Raises
    ------
    RadNomoError
        If the stored file is there, of this study, but malformed.
    """
    path = Path(path)
    if not tour.is_sample or not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        payload = json.load(handle)
    if payload.get("fingerprint") != tour.fingerprint:
        return None
    try:
        return TourNumbers(fingerprint=payload["fingerprint"], models=StudyModels.from_dict(payload["models"]),
                           predictions=_frame_from_dict(payload["predictions"]),
                           performance=_frame_from_dict(payload["performance"]),
                           subgroup=_frame_from_dict(payload["subgroup"]),
                           funnels={name: _frame_from_dict(f) for name, f in payload["funnels"].items()})
    except (KeyError, TypeError, ValueError) as error:
        raise RadNomoError(f"the stored tour numbers ({path}) are malformed ({type(error).__name__}: {error}); "
                           "re-run python -m core.cli.sample_fit.") from error
