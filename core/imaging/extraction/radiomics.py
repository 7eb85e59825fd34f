"""Classic radiomics with pyradiomics: parameter files (safely loaded, validated) and one-case extraction."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import yaml

from core.errors import RadNomoError

__all__ = ["PARAMS_DIR", "SHIPPED_PARAMS", "load_params", "validate_params", "params_sha256", "pyradiomics_version",
           "make_extractor", "extract_features"]

PARAMS_DIR = Path(__file__).resolve().parent / "params"
# study_lbp: study.yaml plus pyradiomics' LBP2D/LBP3D image types (scikit-image; LBP3D also trimesh).
SHIPPED_PARAMS = {"study": PARAMS_DIR / "study.yaml", "original": PARAMS_DIR / "original.yaml",
                  "study_lbp": PARAMS_DIR / "study_lbp.yaml"}


def load_params(source: str | Path | bytes) -> dict:
    """Load and validate a pyradiomics parameter file.

    Parameters
    ----------
    source : path, YAML text as bytes, or the name of a shipped file ("study", "original", "study_lbp")

    Returns
    -------
    dict
        The parameters (keys ``imageType``, ``featureClass``, ``setting``, ...), validated against
        pyradiomics' own schema.

    Raises
    ------
    RadNomoError
        If the YAML is malformed or unsafe (only plain YAML is accepted), or pyradiomics' schema
        rejects it (unknown keys, wrong types).
    """
    if isinstance(source, str) and source in SHIPPED_PARAMS:
        source = SHIPPED_PARAMS[source]
    if isinstance(source, bytes):
        text, name = source.decode("utf-8", errors="replace"), "uploaded parameters"
    else:
        path = Path(source)
        if not path.is_file():
            raise RadNomoError(f"parameter file '{path}' does not exist.")
        text, name = path.read_text(encoding="utf-8", errors="replace"), path.name
    try:
        params = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RadNomoError(f"{name} is not valid plain YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(params, dict):
        raise RadNomoError(f"{name} must be a YAML mapping with imageType, featureClass and setting.")
    return validate_params(params, name)


def validate_params(params: dict, name: str = "parameters") -> dict:
    """Validate an already-parsed pyradiomics parameter dict against pyradiomics' own schema.

    The same check :func:`load_params` applies to a file; used for parameters that arrive as a
    dict (a saved settings JSON). The MIRP engine derives its settings from the same dict, so both
    engines read one validated format.

    Parameters
    ----------
    params : dict
        Keys ``imageType``, ``featureClass``, ``setting``, ...
    name : str
        What to call the parameters in an error message.

    Returns
    -------
    dict
        ``params`` itself.

    Raises
    ------
    RadNomoError
        If ``params`` is not a mapping or pyradiomics' schema rejects it.
    """
    if not isinstance(params, dict):
        raise RadNomoError(f"{name} must be a mapping with imageType, featureClass and setting.")
    _validate(params, name)
    return params


def _validate(params: dict, name: str) -> None:
    import radiomics
    from pykwalify.core import Core
    from pykwalify.errors import PyKwalifyException

    schema_file, schema_funcs = radiomics.getParameterValidationFiles()
    logging.getLogger("pykwalify").setLevel(logging.CRITICAL)  # it logs every error before raising
    try:
        Core(source_data=params, schema_files=[schema_file], extensions=[schema_funcs]).validate()
    except (PyKwalifyException, ValueError, TypeError) as error:
        message = getattr(error, "msg", None) or str(error)
        raise RadNomoError(f"{name} is not valid pyradiomics parameters: {message}".strip()) from error


def params_sha256(params: dict) -> str:
    """Hash of parameters in canonical form (part of the feature-store key)."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def pyradiomics_version() -> str:
    import radiomics

    return str(radiomics.__version__)


def make_extractor(params: dict):
    """A pyradiomics RadiomicsFeatureExtractor configured by ``params`` (already validated)."""
    from radiomics import featureextractor

    # pyradiomics logs every filter at INFO and repeats a GLCM note as a warning for every image
    # type; failures reach us as exceptions, so keep its errors only.
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    return featureextractor.RadiomicsFeatureExtractor(params)


def extract_features(image: sitk.Image, mask: sitk.Image, params: dict, extractor=None) -> dict[str, float]:
    """Extract pyradiomics features of one case.

    Parameters
    ----------
    image, mask : SimpleITK.Image
        Pre-processed image (HU) and its binary mask on the same grid.
    params : dict
        From :func:`load_params`.
    extractor : optional
        A reusable extractor from :func:`make_extractor` (saves re-parsing ``params``).

    Returns
    -------
    dict
        Feature name (pyradiomics' standard names, e.g. ``original_firstorder_Mean``) -> value;
        diagnostics are left out.

    Raises
    ------
    RadNomoError
        If pyradiomics refuses the case (e.g. an ROI too small for the settings).
    """
    extractor = extractor or make_extractor(params)
    label = int(params.get("setting", {}).get("label", 1))
    try:
        result = extractor.execute(image, mask, label=label)
    except (ValueError, RuntimeError, AssertionError) as error:
        raise RadNomoError(f"pyradiomics could not extract this case: {error}") from error
    return {name: float(np.asarray(value)) for name, value in result.items() if not name.startswith("diagnostics_")}
