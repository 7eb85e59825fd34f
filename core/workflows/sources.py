"""Feature sources as types: how a family's features were made, and what follows from it.

A :class:`core.workflows.study.FeatureFamily` records its source as the string ``kind`` (its saved
form; :data:`core.vocabulary.FEATURE_KINDS`). The questions that depend on it are asked here, of the
type registered for that kind, instead of by comparing strings where they are needed:

- whether the source learned from the training patients (an autoencoder did), so a new split must
  drop it or test patients would leak into the features (:meth:`FeatureSource.learns_from_training`);
- whether a new patient can be scored from images (:meth:`FeatureSource.scorable_from_images`);
- the extraction settings it records (for IBSI compliance and for recomputing a new patient's features);
- whether its columns can be IBSI features at all (a latent vector's cannot);
- its sentence in the report's methods.

A new source (say, features from a foundation model) is one subclass and one entry in
:data:`FEATURE_SOURCES` (with its label in the vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from core.errors import RadNomoError
from core.vocabulary import FEATURE_KINDS

if TYPE_CHECKING:  # the study module asks these types; importing it at run time would make a circle
    from core.workflows.study import FeatureFamily

__all__ = ["FeatureSource", "RadiomicsSource", "AutoencoderSource", "ImportedSource", "FEATURE_SOURCES", "source_of"]


class FeatureSource:
    """A kind of feature family: a table computed elsewhere (the base, "imported").

    Attributes
    ----------
    kind : str
        The saved name (a key of :data:`core.vocabulary.FEATURE_KINDS`).
    learns_from_training : bool
        The features come from something fitted on the training patients: a different training
        cohort (a resplit) invalidates them.
    ibsi_named : bool
        Its columns may be IBSI-defined radiomics features (their compliance can be tagged).
    """

    kind = "imported"
    learns_from_training = False
    ibsi_named = True

    @property
    def label(self) -> str:
        """What the source is, in words (the vocabulary's)."""
        return FEATURE_KINDS[self.kind]

    def recorded_extraction(self, family: FeatureFamily) -> dict | None:
        """The extraction settings (engine, parameters, pre-processing) that made the family's features
        and would make them again; None when they are not known."""
        return None

    def scorable_from_images(self, family: FeatureFamily) -> bool:
        """Whether a new patient's features of this family can be computed from a CT and a mask."""
        return False

    def methods_sentence(self, family: FeatureFamily, compliance: Callable[[], str]) -> str:
        """The family's sentence in the report's methods; ``compliance()`` gives its IBSI compliance sentence
        (asked only by the sources whose features can be IBSI features)."""
        return (f"{family.label} features ({family.table.shape[1]}) were imported: {family.source}. "
                + compliance())


class ImportedSource(FeatureSource):
    """A feature table computed elsewhere: kept as given; a new patient cannot be scored from images."""


class RadiomicsSource(FeatureSource):
    """Radiomics features extracted here by an engine (pyradiomics, MIRP) with recorded settings."""

    kind = "radiomics"

    def recorded_extraction(self, family: FeatureFamily) -> dict | None:
        return family.extraction or None

    def scorable_from_images(self, family: FeatureFamily) -> bool:
        return bool(family.extraction) and "params" in (family.extraction or {})

    def methods_sentence(self, family: FeatureFamily, compliance: Callable[[], str]) -> str:
        settings = family.extraction or {}
        params = settings.get("params") or {}
        if not params:  # settings lost: said as a table of unknown making
            return super().methods_sentence(family, compliance)
        preprocess = settings.get("preprocess") or {}
        image_types = ", ".join(sorted(params.get("imageType", {})))
        classes = ", ".join(sorted(params.get("featureClass", {})))
        spacing = preprocess.get("spacing_mm")
        engine = settings.get("engine", "pyradiomics")
        version = settings.get(f"{engine}_version", "")
        return (f"{family.label} features ({family.table.shape[1]}) were extracted with {engine} {version} "
                f"(image types: {image_types}; feature classes: {classes}; bin width "
                f"{params.get('setting', {}).get('binWidth', 'default')})"
                + (f" after resampling to {spacing} mm and clipping intensities to {preprocess.get('hu_range')} HU"
                   if spacing else "") + ". " + compliance())


class AutoencoderSource(FeatureSource):
    """The latent vector of an autoencoder trained on the training cohort's crops (weights recorded)."""

    kind = "deep"
    learns_from_training = True
    ibsi_named = False

    def scorable_from_images(self, family: FeatureFamily) -> bool:
        return family.autoencoder is not None

    def methods_sentence(self, family: FeatureFamily, compliance: Callable[[], str]) -> str:
        if family.autoencoder is None:
            return super().methods_sentence(family, compliance)
        from core.imaging.deep.train import read_weights_metadata

        config = read_weights_metadata(family.autoencoder.weights)["config"]
        return (f"{family.label} features were the {config.latent_size}-value latent vector of a 3D "
                f"convolutional autoencoder trained on the training cohort's {config.crop_size}-voxel "
                "ROI-centred crops (1 mm, abdomen window, mask as a second channel).")


#: Every source type by its saved ``kind``; the keys are the vocabulary's FEATURE_KINDS.
FEATURE_SOURCES: dict[str, FeatureSource] = {source.kind: source
                                             for source in (RadiomicsSource(), AutoencoderSource(), ImportedSource())}


def source_of(family: FeatureFamily) -> FeatureSource:
    """The source type of a family (by its ``kind``).

    Raises
    ------
    RadNomoError
        For a kind with no registered type.
    """
    source = FEATURE_SOURCES.get(family.kind)
    if source is None:
        raise RadNomoError(f"feature family '{family.name}' has kind '{family.kind}', which has no source type; "
                           f"possible values: {', '.join(FEATURE_SOURCES)}.")
    return source
