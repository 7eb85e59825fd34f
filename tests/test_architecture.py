"""Import rules that keep the engine UI-free and fast to import (design guide 2.1), and the public API."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_streamlit_and_keeps_heavy_imports_in_place(path):
    top = _top(_imports(path))
    relative = path.relative_to(ROOT).as_posix()
    assert "streamlit" not in top
    if "torch" in top:
        assert relative.startswith("core/deep/"), relative
    if "radiomics" in top:
        assert relative.startswith("core/extraction/"), relative
    if "plotly" in top:
        assert relative == "core/figures.py", relative


FAST_MODULES = [ROOT / "core" / f"{name}.py" for name in ("cohort", "selection", "modeling", "evaluation",
                                                           "pipeline")]


@pytest.mark.parametrize("path", [p for p in FAST_MODULES if p.exists()], ids=lambda p: p.name)
def test_statistics_modules_stay_fast_to_import(path):
    assert not {n for n in _imports(path) if n.startswith(("core.deep", "core.extraction", "torch", "radiomics"))}


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_pages_never_import_each_other(path):
    assert not any(name == "pages" or name.startswith("pages.") for name in _imports(path))


def test_every_page_is_registered_in_the_app():
    app = (ROOT / "app.py").read_text()
    for path in PAGE_FILES:
        assert f'"pages/{path.name}"' in app, path.name


PUBLIC_API = {
    "core.cohort": ["read_table", "validate_cohort", "CohortSpec", "SplitConfig", "split_cohort", "table_one",
                    "train_test_comparison", "baseline_table", "missing_values", "guess_variable_kinds"],
    "core.synthetic": ["generate_clinical", "generate_cohort", "render_patient", "PhenotypeEffects",
                       "measure_thickness_mm"],
    "core.errors": ["RadNomoError"],
    "core.selection": ["icc_table", "variance_filter", "drop_correlated", "univariable_tests", "lasso_cv", "screen",
                       "selection_stability"],
    "core.modeling": ["fit_logistic", "LogitFit", "build_score", "fit_model", "univariable_logistic", "Nomogram"],
    "core.pipeline": ["fit_study_models"],
    "core.study": ["export_study", "import_study", "save_study", "load_study"],
    "core.evaluation": ["roc_auc", "delong_test", "youden_cutoff", "binary_metrics", "hosmer_lemeshow",
                        "calibration_stats", "decision_curve", "compare_models"],
    "core.extraction.readers": ["read_case"],
    "core.extraction.preprocess": ["preprocess_case"],
    "core.extraction.radiomics": ["load_params", "extract_features"],
    "core.extraction.batch": ["read_manifest", "run_batch"],
    "core.extraction.store": ["FeatureStore"],
    "core.deep.model": ["AEConfig", "AE3D"],
    "core.deep.data": ["prepare_volumes"],
    "core.deep.train": ["train_autoencoder", "load_weights"],
    "core.deep.features": ["extract_latents", "latents_for_manifest"],
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
