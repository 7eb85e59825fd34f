"""Radiomics extraction engines as types: pyradiomics (the study's) and MIRP.

:class:`core.imaging.extraction.batch.ExtractionSettings` records its engine by name (the saved form,
:data:`core.vocabulary.EXTRACTION_ENGINES`); what differs between engines is asked of the type
registered for that name (:func:`engine_of`): its version and how it enters the feature store's key,
which parameters it can follow, whether cutting the parameters down to the features a score uses
saves work, and how one pre-processed case is extracted. A new engine is one subclass and one entry
in :data:`EXTRACTION_ENGINE_TYPES` (with its label in the vocabulary).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import RadNomoError
from core.vocabulary import EXTRACTION_ENGINES

if TYPE_CHECKING:  # the settings ask their engine type; importing batch here would make a circle
    import SimpleITK as sitk

    from core.imaging.extraction.batch import ExtractionSettings

__all__ = ["ExtractionEngine", "PyradiomicsEngine", "MirpEngine", "EXTRACTION_ENGINE_TYPES", "engine_of"]


class ExtractionEngine:
    """What RadNomo needs of a radiomics engine.

    Attributes
    ----------
    name : str
        The saved name (a key of :data:`core.vocabulary.EXTRACTION_ENGINES`).
    follows_every_param : bool
        It can follow every image type and filter of pyradiomics' parameter format (else only some:
        :meth:`check` refuses the others).
    computes_only_asked : bool
        It computes only the image types and feature classes the parameters ask for, so cutting them
        down to a score's features saves time (a new patient's extraction).
    """

    name = ""
    follows_every_param = True
    computes_only_asked = False

    @property
    def label(self) -> str:
        """The engine in words (the vocabulary's)."""
        return EXTRACTION_ENGINES[self.name]

    def version(self) -> str:
        """The installed engine's version."""
        raise NotImplementedError

    def store_version(self) -> str:
        """The version as the feature store records it beside each case."""
        return f"{self.name} {self.version()}"

    def hash_payload(self) -> dict:
        """What the engine adds to the settings' hash (so features of another engine or version are not reused)."""
        return {"engine": self.name, self.name: self.version()}

    def check(self, settings: ExtractionSettings) -> None:
        """Refuse, with a RadNomoError, settings this engine cannot follow (before the first case)."""

    def extract(self, image: sitk.Image, mask: sitk.Image, settings: ExtractionSettings) -> dict[str, float]:
        """Features of one read and pre-processed case (image and mask on the same grid)."""
        raise NotImplementedError


class PyradiomicsEngine(ExtractionEngine):
    """pyradiomics, the study's engine; the parameters are its own format."""

    name = "pyradiomics"
    computes_only_asked = True

    def __init__(self) -> None:
        self._extractors: dict[str, object] = {}  # one extractor per parameter set and process

    def version(self) -> str:
        from core.imaging.extraction.radiomics import pyradiomics_version

        return pyradiomics_version()

    def store_version(self) -> str:
        return self.version()  # the bare version, as stores written before MIRP was added hold

    def hash_payload(self) -> dict:
        # No engine key: a pyradiomics setting hashes exactly as before the engine field existed, so existing
        # feature stores stay valid.
        return {"pyradiomics": self.version()}

    def extract(self, image: sitk.Image, mask: sitk.Image, settings: ExtractionSettings) -> dict[str, float]:
        from core.imaging.extraction.radiomics import extract_features, make_extractor, params_sha256

        key = params_sha256(settings.params)
        if key not in self._extractors:  # building an extractor re-validates the parameters
            self._extractors[key] = make_extractor(settings.params)
        return extract_features(image, mask, settings.params, self._extractors[key])


class MirpEngine(ExtractionEngine):
    """MIRP (IBSI-compliant definitions), its settings derived from the pyradiomics parameters
    (:meth:`core.imaging.extraction.mirp_engine.MirpSettings.from_params`): Original, LoG and Wavelet
    images only; it computes whole feature families either way."""

    name = "mirp"
    follows_every_param = False

    def version(self) -> str:
        from core.imaging.extraction.mirp_engine import mirp_version

        return mirp_version()

    def check(self, settings: ExtractionSettings) -> None:
        settings.mirp  # noqa: B018 - deriving the MIRP settings refuses parameters MIRP cannot follow

    def extract(self, image: sitk.Image, mask: sitk.Image, settings: ExtractionSettings) -> dict[str, float]:
        from core.imaging.extraction.mirp_engine import extract_features

        return extract_features(image, mask, settings.mirp)


#: Every engine type by its saved name; the keys are the vocabulary's EXTRACTION_ENGINES.
EXTRACTION_ENGINE_TYPES: dict[str, ExtractionEngine] = {engine.name: engine
                                                        for engine in (PyradiomicsEngine(), MirpEngine())}


def engine_of(name: str) -> ExtractionEngine:
    """The engine type called ``name``.

    Raises
    ------
    RadNomoError
        For an engine with no registered type, naming the possible values.
    """
    engine = EXTRACTION_ENGINE_TYPES.get(name)
    if engine is None:
        raise RadNomoError(f"engine '{name}' is not valid; possible values: {list(EXTRACTION_ENGINE_TYPES)}.")
    return engine
