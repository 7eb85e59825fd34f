"""Reproduce the reference study on the sample study: ``python -m core.cli.reproduce --out DIR``.

Runs the whole pipeline (the study's screening, scores, the study's clinical model of tumour
thickness, CEA and CA19-9, the fused model) on the bundled sample study with its default 7:3 split,
chooses each model's cut-off by Youden's index on the training cohort, and writes

- ``DIR/table2.csv`` / ``table2.md``: AUC (DeLong 95 % CI) and ACC, SENS, SPEC, PPV, NPV (Wald 95 % CI)
  per cohort (train/test) and model (clinical, radiomics, dl, dl_radiomics, fused);
- ``DIR/table3.csv`` / ``table3.md``: synchronous vs metachronous LM among all LM patients, per score;

the Markdown versions put the study's published values beside ours.
"""

from __future__ import annotations

import pandas as pd

from core.errors import RadNomoError
from core.stats.evaluation import METRICS, interval_text
from core.stats.summaries import table2, training_cutoffs
from core.workflows.fit import fit_study, predict_study
from core.workflows.sample import sample_study
from core.workflows.study import ModelSettings
from core.workflows.subgroups import compare_subgroup

__all__ = ["STUDY_SETTINGS", "STUDY_TABLE2", "STUDY_TABLE3", "STUDY_AUC", "reproduce", "markdown_table2",
           "markdown_table3"]

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
