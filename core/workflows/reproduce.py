"""Reproduce the reference study on the sample study, or a saved study from its own data and settings.

``python -m core.cli.reproduce --out DIR`` runs the whole pipeline (the study's screening, scores, the study's
clinical model of tumour thickness, CEA and CA19-9, the fused model) on the bundled sample study with its default
7:3 split, chooses each model's cut-off by Youden's index on the training cohort, and writes

- ``DIR/table2.csv`` / ``table2.md``: AUC (DeLong 95 % CI) and ACC, SENS, SPEC, PPV, NPV (Wald 95 % CI)
  per cohort (train/test) and model (clinical, radiomics, dl, dl_radiomics, fused);
- ``DIR/table3.csv`` / ``table3.md``: synchronous vs metachronous LM among all LM patients, per score;

the Markdown versions put the study's published values beside ours.

``python -m core.cli.reproduce --study FOLDER --out DIR`` reproduces a saved study of any outcome type
(:func:`reproduce_saved`): its pipeline refitted from scratch on its saved data, split and settings, its Table 2
(:func:`study_table2`) and, when it was saved with its models, whether the refit predicts what the saved models
predict for every patient (:func:`compare_predictions`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import RadNomoError
from core.stats.evaluation import METRICS, interval_text
from core.stats.summaries import table2, training_cutoffs
from core.workflows.external import ExternalCohort, evaluate_survival_panel, pooled_predictions
from core.workflows.fit import StudyModels, fit_study, predict_study
from core.workflows.persistence import STUDY_FILE, load_study, load_study_models
from core.workflows.sample import sample_study
from core.workflows.study import ModelSettings, Study
from core.workflows.subgroups import compare_subgroup

__all__ = ["STUDY_SETTINGS", "STUDY_TABLE2", "STUDY_TABLE3", "STUDY_AUC", "reproduce", "markdown_table2",
           "markdown_table3", "study_table2", "STUDY_TABLE2_BY_KIND", "compare_predictions", "reproduce_saved",
           "SavedReproduction", "REPRODUCED_TOLERANCE"]

#: How closely a refit must predict what the saved models predict (the same data, settings and seeds through the
#: same arithmetic: only summation order and the optimisers' last iterations may differ). Absolute, in each
#: column's unit: a probability, a linear predictor or a survival probability.
REPRODUCED_TOLERANCE = 1e-6

# The study's clinical model: the independent predictors of its multivariable analysis.
STUDY_SETTINGS = ModelSettings(clinical_continuous=("tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml"),
                               clinical_categorical=())

# Published values (Guo et al. 2025, Tables 2 and 3; ../shared/reference-study.md), for comparison only.
STUDY_TABLE2 = {
    ("train", "clinical"): ".686 (.652-.721) | .723 (.690-.756) | .476 (.411-.541) | "
                           ".841 (.809-.874) | .590 (.519-.661) | .770 (.734-.806)",
    ("train", "radiomics"): ".703 (.669-.737) | .700 (.666-.734) | .559 (.495-.624) | "
                            ".767 (.729-.806) | .536 (.472-.599) | .784 (.747-.822)",
    ("train", "dl"): ".716 (.683-.750) | .640 (.604-.676) | .749 (.692-.805) | "
                     ".588 (.543-.632) | .466 (.415-.517) | .830 (.790-.870)",
    ("train", "dl_radiomics"): ".770 (.739-.801) | .699 (.665-.733) | .705 (.646-.764) | "
                               ".696 (.654-.737) | .526 (.470-.582) | .831 (.794-.868)",
    ("train", "fused"): ".796 (.766-.826) | .733 (.700-.766) | .731 (.674-.789) | "
                        ".734 (.694-.773) | .568 (.512-.625) | .850 (.816-.885)",
    ("test", "clinical"): ".658 (.605-.712) | .703 (.652-.755) | .452 (.346-.559) | "
                          ".801 (.748-.854) | .469 (.360-.578) | .790 (.736-.844)",
    ("test", "radiomics"): ".690 (.638-.742) | .607 (.551-.662) | .750 (.657-.843) | "
                           ".551 (.485-.617) | .394 (.318-.469) | .850 (.791-.909)",
    ("test", "dl"): ".694 (.642-.746) | .703 (.652-.755) | .536 (.429-.642) | "
                    ".769 (.712-.825) | .474 (.373-.574) | .810 (.756-.863)",
    ("test", "dl_radiomics"): ".748 (.699-.797) | .663 (.610-.717) | .702 (.605-.800) | "
                              ".648 (.584-.712) | .437 (.353-.521) | .848 (.794-.903)",
    ("test", "fused"): ".787 (.741-.834) | .683 (.631-.736) | .679 (.579-.778) | "
                       ".685 (.623-.747) | .456 (.369-.543) | .846 (.792-.899)",
}
STUDY_TABLE3 = {"dl_radiomics": ".665 (.613-.718) | .608 (.553-.662) | .725 (.645-.805) | .534 (.463-.605) | "
                                ".494 (.420-.568) | .756 (.683-.828)"}
STUDY_AUC = {key: float(value.split(" ")[0]) for key, value in STUDY_TABLE2.items()}


def reproduce(settings: ModelSettings = STUDY_SETTINGS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(table2, table3) of the sample study under ``settings`` (the study's by default)."""
    study = sample_study(settings=settings)
    models = fit_study(study)
    predictions = predict_study(study, models)
    cutoffs = training_cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    performance = table2(predictions, study.outcome, study.cohorts(), cutoffs)
    if study.subgroup is None:
        raise RadNomoError("the sample study has no subgroup question, which Table 3 needs (study.subgroup).")
    by_type = compare_subgroup(study, predictions, list(models.scores), study.subgroup).table
    return performance, by_type


def _cells(row: pd.Series) -> str:
    """AUC and the five metrics of one row as Markdown cells: estimate (low-high)."""
    return " | ".join(interval_text(row.to_frame().T).iloc[0])


def markdown_table2(performance: pd.DataFrame) -> str:
    """Table 2 as Markdown, each of our cells above the study's published value."""
    header = "| cohort | model | | AUC | " + " | ".join(METRICS) + " |\n|---|---|---|---|" + "---|" * len(METRICS)
    lines = [header]
    for _, row in performance.iterrows():
        lines.append(f"| {row['cohort']} | {row['model']} | RadNomo | {_cells(row)} |")
        study = STUDY_TABLE2.get((row["cohort"], row["model"]))
        if study:
            lines.append(f"| | | study | {study} |")
    return "\n".join(lines) + "\n"


def markdown_table3(by_type: pd.DataFrame) -> str:
    """Table 3 as Markdown, with the study's published DL-radiomics row."""
    header = "| score | | AUC | " + " | ".join(METRICS) + " |\n|---|---|---|" + "---|" * len(METRICS)
    lines = [header]
    for _, row in by_type.iterrows():
        lines.append(f"| {row['model']} | RadNomo | {_cells(row)} |")
        if row["model"] in STUDY_TABLE3:
            lines.append(f"| | study | {STUDY_TABLE3[row['model']]} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# A saved study, reproduced from its own data and settings
# ---------------------------------------------------------------------------------------------


def _binary_table2(study: Study, models: StudyModels, predictions: pd.DataFrame,
                   externals: Sequence[ExternalCohort]) -> pd.DataFrame:
    """A binary study's Table 2 on its cohorts (and ``externals``), at its cut-off rule chosen on training."""
    pooled, outcome, groups = pooled_predictions(study, models, predictions, externals)
    cutoffs = study.evaluation.cutoffs(predictions, study.outcome, study.train_ids, models.model_names)
    return table2(pooled, outcome, groups, cutoffs, ci=study.evaluation.proportion_ci)


def _survival_table2(study: Study, models: StudyModels, predictions: pd.DataFrame,
                     externals: Sequence[ExternalCohort]) -> pd.DataFrame:
    """A time-to-event study's Table 2 on its cohorts (and ``externals``): Harrell's and Uno's C, and at each horizon
    AUC(t) and the risk groups at the training cut-off (:func:`core.workflows.external.evaluate_survival_panel`)."""
    return evaluate_survival_panel(study, models, predictions, externals).table2()


#: Outcome kind -> its Table 2: ``(study, models, predictions, externals) -> DataFrame``, one row per cohort and
#: model (the columns of :func:`core.stats.summaries.table2`, or of
#: :meth:`core.workflows.survival_evaluation.SurvivalEvaluation.table2`).
STUDY_TABLE2_BY_KIND: dict[str, Callable[[Study, StudyModels, pd.DataFrame, Sequence[ExternalCohort]],
                                         pd.DataFrame]] = {"binary": _binary_table2, "survival": _survival_table2}


def study_table2(study: Study, models: StudyModels, predictions: pd.DataFrame | None = None,
                 externals: Sequence[ExternalCohort] = ()) -> pd.DataFrame:
    """The Table 2 of fitted ``models`` on the study's training and test cohorts and ``externals``, by the study's
    outcome type (:data:`STUDY_TABLE2_BY_KIND`). ``predictions``: :func:`predict_study` of the models (computed when
    None).

    Raises
    ------
    RadNomoError
        For an outcome type without a Table 2.
    """
    kind = study.spec.outcome.kind
    if kind not in STUDY_TABLE2_BY_KIND:
        raise RadNomoError(f"no Table 2 is known for a {kind} outcome; known: {', '.join(STUDY_TABLE2_BY_KIND)}.")
    if predictions is None:
        predictions = predict_study(study, models)
    return STUDY_TABLE2_BY_KIND[kind](study, models, predictions, externals)


def compare_predictions(refit: pd.DataFrame, saved: pd.DataFrame, *,
                        tolerance: float = REPRODUCED_TOLERANCE) -> pd.DataFrame:
    """Column by column, how far a refit's predictions lie from the saved models' (both :func:`predict_study`).

    Returns
    -------
    pandas.DataFrame
        One row per prediction column of either: ``column``, ``patients`` (with a prediction in both),
        ``max_abs_difference`` (in the column's unit; NaN for a column only one has), ``same_patients`` (both
        predict for the same patients) and ``reproduced`` (same columns, same patients, every difference within
        ``tolerance``).
    """
    rows = []
    for column in list(dict.fromkeys([*saved.columns, *refit.columns])):
        if column not in saved.columns or column not in refit.columns:
            rows.append({"column": column, "patients": 0, "max_abs_difference": np.nan, "same_patients": False,
                         "reproduced": False})
            continue
        now = refit[column].reindex(saved.index).to_numpy(dtype=float)
        then = saved[column].to_numpy(dtype=float)
        both = np.isfinite(now) & np.isfinite(then)
        same = bool((np.isfinite(now) == np.isfinite(then)).all()) and refit.index.sort_values().equals(
            saved.index.sort_values())
        difference = float(np.max(np.abs(now[both] - then[both]))) if both.any() else 0.0
        rows.append({"column": column, "patients": int(both.sum()), "max_abs_difference": difference,
                     "same_patients": same, "reproduced": same and difference <= tolerance})
    return pd.DataFrame(rows, columns=["column", "patients", "max_abs_difference", "same_patients", "reproduced"])


@dataclass(frozen=True)
class SavedReproduction:
    """A saved study reproduced from its data and settings (:func:`reproduce_saved`).

    Attributes
    ----------
    study : Study
        The saved study, as loaded.
    models : StudyModels
        The refit: its pipeline fitted from scratch on its training patients.
    table2 : pandas.DataFrame
        The refit's Table 2 (:func:`study_table2`).
    comparison : pandas.DataFrame or None
        :func:`compare_predictions` of the refit against the saved models on every patient; None for a study saved
        without its models.
    """

    study: Study
    models: StudyModels
    table2: pd.DataFrame
    comparison: pd.DataFrame | None

    @property
    def reproduced(self) -> bool | None:
        """Whether the refit predicts what the saved models predict (None: nothing saved to compare with)."""
        return None if self.comparison is None else bool(self.comparison["reproduced"].all())


def reproduce_saved(folder: str | Path) -> SavedReproduction:
    """Refit a saved study from scratch (its saved data, split and settings; nothing read from its saved models) and
    compare: its Table 2, and whether the refit predicts what the saved models predict, for every patient.

    Raises
    ------
    RadNomoError
        For a folder that holds no study, a study that does not load, saved models that are refused (edited), or a
        study that cannot be fitted.
    """
    folder = Path(folder)
    if not (folder / STUDY_FILE).is_file():
        raise RadNomoError(f"'{folder}' is not a saved study (it has no {STUDY_FILE}); give the folder the dashboard "
                           "saved, or DIR/study of core.cli.analyse --out DIR.")
    study = load_study(folder)
    saved = load_study_models(folder, study)
    models = fit_study(study)
    predictions = predict_study(study, models)
    comparison = None if saved is None else compare_predictions(predictions, predict_study(study, saved))
    return SavedReproduction(study=study, models=models, table2=study_table2(study, models, predictions),
                             comparison=comparison)
