"""The engine's layers and import rules (design guide 2.1), and the public API.

core/ is layered, each layer importing only from itself and the layers below it:

    foundation   core/errors.py, core/vocabulary.py (names, labels and options declared once)
    stats        core/stats/       cohort tables, selection, LASSO, models, evaluation, harmonisation: pure
                                   functions on tables; no files, no images, no sample data
    io           core/io/          files: reading tables, the data root, archives
    imaging      core/imaging/     extraction (pyradiomics), the autoencoder (torch), the synthetic generator
    figures      core/figures/     plotly and matplotlib figures drawn from results
    workflows    core/workflows/   the Study, fitting it, persistence, validation, external cohorts, new
                                   patients, teaching, the report, the sample study
    cli          core/cli/         command lines: the only place with argparse

ui.py and pages/ sit on top; core never imports streamlit.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LAYERS = ("foundation", "stats", "io", "imaging", "figures", "workflows", "cli")
FOUNDATION = {"core", "core.errors", "core.vocabulary"}
# Top-level modules that only run a command line under the name an issue gave it (python -m core.analyse).
COMMAND_ALIASES = {"core.analyse"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    """The layer of a core module name (``core.stats.selection`` -> "stats")."""
    if module in FOUNDATION:
        return "foundation"
    if module in COMMAND_ALIASES:
        return "cli"
    parts = module.split(".")
    assert parts[0] == "core" and len(parts) >= 2 and parts[1] in LAYERS, f"{module} belongs to no layer"
    return parts[1]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


CORE_FILES = sorted((ROOT / "core").rglob("*.py"))
PAGE_FILES = sorted((ROOT / "pages").glob("*.py"))


def test_every_core_module_belongs_to_a_layer():
    for path in CORE_FILES:
        layer_of(_module_name(path))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_layer_imports_only_from_itself_and_below(path):
    own = LAYERS.index(layer_of(_module_name(path)))
    for name in _imports(path):
        if name == "core" or name.startswith("core."):
            target = layer_of(".".join(name.split(".")[:2]) if name.split(".")[1] in LAYERS else name)
            assert LAYERS.index(target) <= own, f"{_module_name(path)} ({LAYERS[own]}) imports {name} ({target})"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit_and_keeps_heavy_imports_in_place(path):
    top = _top(_imports(path))
    relative = path.relative_to(ROOT).as_posix()
    assert "streamlit" not in top
    if "torch" in top or "safetensors" in top:
        assert relative.startswith("core/imaging/deep/"), relative
    if "radiomics" in top:
        assert relative.startswith("core/imaging/extraction/"), relative
    if "plotly" in top or "matplotlib" in top or "fpdf" in top:
        assert relative.startswith(("core/figures/", "core/workflows/report")), relative
    if "argparse" in top:
        assert relative.startswith("core/cli/"), relative
    if _module_name(path) in COMMAND_ALIASES:  # an alias runs its command and holds nothing else
        assert _imports(path) <= {f"core.cli.{_module_name(path).split('.')[-1]}"}, relative


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (imports for annotations only never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = child.test if isinstance(child, ast.If) else None
            if test is not None and (getattr(test, "id", None) == "TYPE_CHECKING"
                                     or getattr(test, "attr", None) == "TYPE_CHECKING"):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _core_targets(path: Path, modules: set[str]) -> set[str]:
    """The core modules ``path`` imports anywhere in it (module level and inside functions; not the
    ``if TYPE_CHECKING:`` imports, which never run).

    ``from core.a import b`` counts as importing ``core.a.b`` when that is a module, else ``core.a``.
    """
    targets: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                targets.add(submodule if submodule in modules else node.module)
    return {name for name in targets if name in modules}


def import_graph() -> dict[str, set[str]]:
    """Every core module -> the core modules it imports (module level and function level)."""
    modules = {_module_name(path) for path in CORE_FILES}
    return {_module_name(path): _core_targets(path, modules) - {_module_name(path)} for path in CORE_FILES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as its modules in order (first repeated last), or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_core_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_names_a_cycle():
    graph = {"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": {"core.a"}, "core.d": {"core.a"}}
    assert find_cycle(graph) == ["core.a", "core.b", "core.c", "core.a"]
    assert find_cycle({"core.a": {"core.b"}, "core.b": set()}) is None


FILE_READERS = {"read_csv", "read_parquet", "read_excel", "read_table", "read_bytes", "read_text", "open",
                "write_text", "write_bytes", "to_csv", "to_parquet"}


@pytest.mark.parametrize("path", sorted((ROOT / "core" / "stats").rglob("*.py")), ids=lambda p: p.name)
def test_statistics_read_and_write_no_files(path):
    tree = ast.parse(path.read_text())
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
              for node in ast.walk(tree) if isinstance(node, ast.Call)}
    assert not called & FILE_READERS, f"{path.name} calls {called & FILE_READERS}"
    assert not _top(_imports(path)) & {"pathlib", "shutil", "tempfile", "zipfile"}, path.name


@pytest.mark.parametrize("path", [*PAGE_FILES, ROOT / "ui.py"], ids=lambda p: p.name)
def test_pages_and_ui_compute_no_statistics(path):
    # Statistics live in core: a page or ui.py that imports a statistics library is computing one itself.
    assert not _top(_imports(path)) & {"scipy", "sklearn", "statsmodels", "numba"}, path.name
    assert not any(name.startswith("core.cli") for name in _imports(path)), path.name


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_never_import_each_other(path):
    assert not any(name == "pages" or name.startswith("pages.") for name in _imports(path))


def test_every_page_is_registered_in_the_app():
    app = (ROOT / "app.py").read_text()
    for path in PAGE_FILES:
        assert f'"pages/{path.name}"' in app, path.name


PUBLIC_API = {
    "core.io.tables": ["read_table", "read_any_table"],
    "core.stats.cohort": ["validate_cohort", "CohortSpec", "SplitConfig", "split_cohort", "table_one",
                          "train_test_comparison", "baseline_table", "missing_values", "guess_variable_kinds"],
    "core.imaging.synthetic": ["generate_clinical", "generate_cohort", "render_patient", "PhenotypeEffects",
                               "measure_thickness_mm"],
    "core.errors": ["RadNomoError"],
    "core.stats.selection": ["icc_table", "variance_filter", "drop_correlated", "univariable_tests", "lasso_cv",
                             "screen", "selection_stability"],
    "core.stats.modeling": ["fit_logistic", "LogitFit", "build_score", "fit_model", "univariable_logistic",
                            "Nomogram"],
    "core.workflows.fit": ["fit_study", "fit_models", "predict_study", "screen_family"],
    "core.workflows.results": ["StudyResults", "StageStore", "BackgroundFits", "reopen_study"],
    "core.workflows.evaluation": ["evaluate_study", "evaluate_cohorts"],
    "core.stats.learners": ["get_learner", "register"],
    "core.stats.outcomes": ["BinaryOutcome", "register_outcome", "SurvivalOutcome"],
    "core.workflows.sources": ["source_of"],
    "core.workflows.study": ["Study", "FeatureFamily", "CombinedFamily", "ModelSettings", "make_study"],
    "core.workflows.sample": ["sample_study", "sample_survival_study"],
    # time-to-event studies (issue 27)
    "core.stats.outcome_statistics": ["statistics_for"],
    "core.stats.survival.kaplan_meier": ["kaplan_meier", "log_rank", "median_follow_up"],
    "core.stats.survival.cox": ["fit_cox", "univariable_cox", "cox_zph"],
    "core.stats.survival.lasso_cox": ["lasso_cox_cv", "lasso_cox_path"],
    "core.stats.survival.concordance": ["harrell_c", "uno_c", "compare_concordance"],
    "core.stats.survival.time_dependent": ["td_auc", "td_roc_curve", "brier", "integrated_brier"],
    "core.stats.survival.calibration": ["survival_calibration"],
    "core.stats.survival.decision": ["survival_decision_curve", "survival_decision_analysis",
                                     "survival_net_benefit_difference"],
    "core.stats.survival.flexible_calibration": ["survival_flexible_calibration"],
    "core.stats.calibration": ["calibration_summary", "flexible_calibration"],
    "core.stats.calibration_optimism": ["corrected_calibration_curve", "corrected_calibration_indexes"],
    "core.stats.decision_analysis": ["decision_analysis", "net_benefit_difference", "bootstrap_bands"],
    "core.stats.reclassification": ["improve_prob", "categorical_nri", "reclassification_row"],
    "core.stats.sample_size": ["binary_sample_size", "survival_sample_size", "cstatistic_to_rsquared"],
    "core.workflows.sample_size": ["study_sample_size"],
    "core.workflows.model_comparison": ["compare_two_models", "reclassification_table", "reclassification_pairs"],
    "core.stats.survival.nomogram": ["CoxNomogram"],
    "core.workflows.survival_evaluation": ["evaluate_survival_study", "evaluate_survival_cohorts"],
    "core.workflows.subgroups": ["compare_subgroup"],
    "core.workflows.external": ["validate_external", "pooled_predictions", "cohort_panel", "cohort_aucs"],
    "core.workflows.validation": ["optimism_corrected_auc", "repeated_cv_auc"],
    "core.workflows.persistence": ["export_study", "import_study", "save_study", "load_study", "load_study_models"],
    "core.stats.evaluation": ["roc_auc", "delong_test", "youden_cutoff", "binary_metrics", "hosmer_lemeshow",
                              "calibration_stats", "decision_curve", "compare_models"],
    "core.imaging.extraction.readers": ["read_case"],
    "core.imaging.extraction.preprocess": ["preprocess_case"],
    "core.imaging.extraction.radiomics": ["load_params", "extract_features"],
    "core.imaging.extraction.batch": ["read_manifest", "run_batch"],
    "core.imaging.extraction.store": ["FeatureStore"],
    "core.imaging.deep.model": ["AEConfig", "AE3D"],
    "core.imaging.deep.data": ["prepare_volumes"],
    "core.imaging.deep.train": ["train_autoencoder", "load_weights"],
    "core.imaging.deep.features": ["extract_latents", "latents_for_manifest"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_public_api_is_importable_and_listed(module):
    loaded = importlib.import_module(module)
    for name in PUBLIC_API[module]:
        assert name in loaded.__all__ and callable(getattr(loaded, name)), f"{module}.{name}"
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in PUBLIC_API[module] if f"{module}.{name}" not in readme]
    assert not missing, f"README's Public API section does not name {missing}"


def test_errors_are_value_errors():
    from core.errors import RadNomoError

    assert issubclass(RadNomoError, ValueError)
