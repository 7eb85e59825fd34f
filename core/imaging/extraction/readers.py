"""Read a CT image and its tumour mask from NIfTI, NRRD (incl. 3D Slicer .seg.nrrd), MHA/MHD or DICOM.

Every reader returns ``(image, mask)`` as SimpleITK images on the same grid, the mask binary
(uint8, 1 = ROI). Bad input raises :class:`core.errors.RadNomoError` naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError, RadNomoWarning

__all__ = [
    "MaskGeometryWarning",
    "choose_by_name",
    "read_image",
    "read_mask",
    "read_case",
    "content_hash",
    "CaseImages",
]

# Origins that differ by less than this fraction of a voxel, and direction cosines that differ by
# less than this, count as the same grid up to rounding in the writing software.
_ORIGIN_TOLERANCE_VOXELS = 0.5
_DIRECTION_TOLERANCE = 1e-3
_VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".mha", ".mhd")


class MaskGeometryWarning(RadNomoWarning):
    """The mask's grid differed slightly from the image's and was resampled onto it."""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CaseImages:
    """One case's image and binary mask on the same grid.

    Attributes
    ----------
    image : SimpleITK.Image
        The CT in HU (pixel type as stored).
    mask : SimpleITK.Image
        uint8, 1 inside the ROI, same size, spacing, origin and direction as ``image``.
    """

    image: sitk.Image
    mask: sitk.Image


def choose_by_name(labels: dict[int, str], wanted: str | None, *, what: str, where: str) -> int:
    """The number of the item called ``wanted`` among ``labels`` ({number: name}); the only one if None.

    Shared by the RTSTRUCT (ROIs), DICOM-SEG and Slicer (segments) readers.

    Raises
    ------
    RadNomoError
        If there is none, several and no name was given, or none of that name.
    """
    if not labels:
        raise RadNomoError(f"{where} defines no {what}.")
    names = sorted(labels.values())
    if wanted is None:
        if len(labels) > 1:
            raise RadNomoError(f"{where} has {what}s {names}; choose one by name.")
        return next(iter(labels))
    for number, label in labels.items():
        if label == wanted:
            return number
    raise RadNomoError(f"{what} '{wanted}' is not in {where}; {what}s: {names}.")


def _is_dicom_folder(path: Path) -> bool:
    return path.is_dir()


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def read_image(path: str | Path) -> sitk.Image:
    """Read a 3D image from a volume file or a DICOM series folder.

    Raises
    ------
    RadNomoError
        If the path is missing, not a supported format, unreadable, or not 3D.
    """
    path = Path(path)
    if not path.exists():
        raise RadNomoError(f"image '{path}' does not exist.")
    if _is_dicom_folder(path):
        image = _read_dicom_series(path)
    else:
        if _suffix(path) not in _VOLUME_SUFFIXES:
            raise RadNomoError(f"image '{path.name}' is not a supported format; use NIfTI, NRRD, MHA/MHD or a DICOM "
                               "series folder.")
        image = _read_volume(path, "image")
    if image.GetDimension() != 3 or min(image.GetSize()) < 1:
        raise RadNomoError(f"image '{path.name}' is {image.GetDimension()}D; a 3D CT volume is required.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise RadNomoError(f"image '{path.name}' has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                           "a single-channel CT is required.")
    return image


def _check_complete(path: Path, role: str) -> None:
    """Refuse a truncated file: ITK's NIfTI reader can return a volume padded with zeros instead."""
    import gzip
    import zlib

    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rb") as stream:
                while stream.read(1 << 22):
                    pass
        except (EOFError, OSError, zlib.error) as error:
            raise RadNomoError(f"{role} '{path.name}' could not be read: the compressed file is truncated or "
                               f"corrupt ({error}).") from error


def _read_volume(path: Path, role: str) -> sitk.Image:
    _check_complete(path, role)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise RadNomoError(f"{role} '{path.name}' could not be read ({first_line[:200]}); is the file complete "
                           "and of the format its extension says?") from error
    if path.suffix.lower() == ".nii":
        expected = int(np.prod(image.GetSize())) * image.GetNumberOfComponentsPerPixel() * \
            sitk.GetArrayViewFromImage(image).itemsize
        if path.stat().st_size < expected:
            raise RadNomoError(f"{role} '{path.name}' could not be read: the file is truncated "
                               f"({path.stat().st_size} bytes for {expected} bytes of voxels).")
    return image


def _read_dicom_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise RadNomoError(f"no DICOM image series found in folder '{folder.name}'.")
    if len(series) > 1:
        raise RadNomoError(f"folder '{folder.name}' holds {len(series)} DICOM series; put one series per folder.")
    files = reader.GetGDCMSeriesFileNames(str(folder), series[0])
    if len(files) < 2:
        raise RadNomoError(f"DICOM series in '{folder.name}' has {len(files)} slice(s); a 3D series is required.")
    _check_slice_spacing(files, folder)
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as error:
        raise RadNomoError(f"DICOM series in '{folder.name}' could not be read: {str(error).splitlines()[0][:200]}") \
            from error


def _check_slice_spacing(files: Sequence[str], folder: Path) -> None:
    """Refuse a series with missing slices (uneven gaps), which would silently distort the volume."""
    import pydicom

    positions = []
    for name in files:
        header = pydicom.dcmread(name, stop_before_pixels=True, specific_tags=["ImagePositionPatient",
                                                                               "ImageOrientationPatient"])
        if "ImagePositionPatient" not in header:
            return
        orientation = np.array(header.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        positions.append(float(np.dot(normal, np.array(header.ImagePositionPatient, dtype=float))))
    gaps = np.diff(np.sort(positions))
    if len(gaps) and (gaps.min() <= 0 or gaps.max() > 1.5 * np.median(gaps)):
        raise RadNomoError(f"DICOM series in '{folder.name}' has uneven slice gaps ({gaps.min():.2f}-{gaps.max():.2f} "
                           "mm): slices are missing or duplicated.")


def read_mask(path: str | Path, image: sitk.Image, *, label: int | None = 1, roi_name: str | None = None) -> sitk.Image:
    """Read a tumour mask for ``image`` and return it binary on the image's grid.

    Parameters
    ----------
    path : path
        A label volume (NIfTI/NRRD/MHA), a 3D Slicer ``.seg.nrrd``, a DICOM RTSTRUCT or DICOM-SEG
        file, or a folder holding one such DICOM file.
    image : SimpleITK.Image
        The image the mask belongs to.
    label : int, optional
        Label value of the ROI in a label volume (default 1); ``None`` takes every non-zero voxel.
    roi_name : str, optional
        ROI name in an RTSTRUCT, segment label in a DICOM-SEG, or segment name in a .seg.nrrd;
        required when the file holds several.

    Returns
    -------
    SimpleITK.Image
        uint8 binary mask on the image's grid.

    Raises
    ------
    RadNomoError
        If the file is unreadable, the ROI/label is absent, the mask is empty, or its grid
        cannot be matched to the image.
    """
    path = Path(path)
    if not path.exists():
        raise RadNomoError(f"mask '{path}' does not exist.")
    if path.is_dir():
        dicom_files = [p for p in sorted(path.iterdir()) if p.is_file()]
        if len(dicom_files) != 1:
            raise RadNomoError(f"mask folder '{path.name}' must hold exactly one RTSTRUCT or SEG file, "
                               f"it holds {len(dicom_files)} files.")
        path = dicom_files[0]
    if _suffix(path) in _VOLUME_SUFFIXES:
        if path.name.lower().endswith(".seg.nrrd"):
            mask = _slicer_segment(path, roi_name)
        else:
            mask = _binary_from_labels(_read_volume(path, "mask"), label, path.name)
        mask = _onto_image_grid(mask, image, path.name)
    else:
        mask = _dicom_mask(path, image, roi_name)
    if not sitk.GetArrayViewFromImage(mask).any():
        raise RadNomoError(f"mask '{path.name}' is empty" + (f" for label {label}" if label is not None else "") +
                           "; check the label value or the segmentation.")
    return mask


def _binary_from_labels(labels: sitk.Image, label: int | None, name: str) -> sitk.Image:
    if labels.GetNumberOfComponentsPerPixel() != 1:
        raise RadNomoError(f"mask '{name}' has several components per voxel; save a label map, or use a .seg.nrrd "
                           "and name the segment.")
    array = sitk.GetArrayViewFromImage(labels)
    if label is None:
        binary = array != 0
    else:
        binary = array == label
        if not binary.any():
            present = np.unique(array)
            shown = ", ".join(str(v) for v in present[:10])
            raise RadNomoError(f"label {label} is absent from mask '{name}'; labels present: {shown}.")
    out = sitk.GetImageFromArray(binary.astype(np.uint8))
    out.CopyInformation(labels)
    return out


def _slicer_segment(path: Path, segment_name: str | None) -> sitk.Image:
    """One segment of a 3D Slicer .seg.nrrd (labelmap or one layer per segment)."""
    segmentation = _read_volume(path, "mask")
    keys = segmentation.GetMetaDataKeys()
    keys = set(keys)
    layers: dict[int, tuple[int, int]] = {}
    names: dict[int, str] = {}
    index = 0
    while f"Segment{index}_Name" in keys:
        names[index] = segmentation.GetMetaData(f"Segment{index}_Name")
        layer = int(segmentation.GetMetaData(f"Segment{index}_Layer")) if f"Segment{index}_Layer" in keys else 0
        value = int(segmentation.GetMetaData(f"Segment{index}_LabelValue")) if \
            f"Segment{index}_LabelValue" in keys else index + 1
        layers[index] = (layer, value)
        index += 1
    if not names:
        raise RadNomoError(f"'{path.name}' has no Slicer segment metadata; save it from 3D Slicer or use a label map.")
    layer, value = layers[choose_by_name(names, segment_name, what="segment", where=f"'{path.name}'")]
    if segmentation.GetNumberOfComponentsPerPixel() > 1:
        segmentation = sitk.VectorIndexSelectionCast(segmentation, layer)
    return _binary_from_labels(segmentation, value, path.name)


def _onto_image_grid(mask: sitk.Image, image: sitk.Image, name: str) -> sitk.Image:
    """Return the mask on the image's grid: as is, resampled after a small mismatch (warned), or refused."""
    if mask.GetDimension() != image.GetDimension():
        raise RadNomoError(f"mask '{name}' is {mask.GetDimension()}D but the image is {image.GetDimension()}D.")
    same_size = mask.GetSize() == image.GetSize()
    same_spacing = np.allclose(mask.GetSpacing(), image.GetSpacing(), rtol=1e-4)
    origin_shift = np.abs(np.subtract(mask.GetOrigin(), image.GetOrigin())) / np.asarray(image.GetSpacing())
    direction_shift = np.abs(np.subtract(mask.GetDirection(), image.GetDirection())).max()
    if same_size and same_spacing and origin_shift.max() < 1e-4 and direction_shift < 1e-6:
        mask.CopyInformation(image)  # identical up to float noise: adopt the image's exact geometry
        return mask
    if same_size and same_spacing and origin_shift.max() < _ORIGIN_TOLERANCE_VOXELS \
            and direction_shift < _DIRECTION_TOLERANCE:
        warnings.warn(f"mask '{name}' was {origin_shift.max():.2f} voxel(s) off the image grid; it was resampled "
                      "onto the image (nearest neighbour).", MaskGeometryWarning, stacklevel=3)
        return sitk.Resample(mask, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    raise RadNomoError(
        f"mask '{name}' does not match the image's geometry (size {mask.GetSize()} vs {image.GetSize()}, spacing "
        f"{tuple(round(s, 3) for s in mask.GetSpacing())} vs {tuple(round(s, 3) for s in image.GetSpacing())}, "
        f"origin off by {origin_shift.max():.1f} voxels); export the mask on the image's grid.")


def _dicom_mask(path: Path, image: sitk.Image, roi_name: str | None) -> sitk.Image:
    import pydicom

    try:
        dataset = pydicom.dcmread(str(path))
    except Exception as error:  # pydicom raises several types for non-DICOM input
        raise RadNomoError(f"mask '{path.name}' is not a readable DICOM file ({type(error).__name__}).") from error
    modality = getattr(dataset, "Modality", "")
    if modality == "RTSTRUCT":
        from core.imaging.extraction.rtstruct import rasterize_rtstruct

        return rasterize_rtstruct(dataset, image, roi_name, name=path.name)
    if modality == "SEG":
        from core.imaging.extraction.dicomseg import segment_mask

        return segment_mask(dataset, image, roi_name, name=path.name)
    raise RadNomoError(f"mask '{path.name}' is DICOM {modality or 'without a modality'}; an RTSTRUCT or SEG is "
                       "required.")


def read_case(image_path: str | Path, mask_path: str | Path, *, label: int | None = 1,
              roi_name: str | None = None) -> CaseImages:
    """Read an image and its mask (see :func:`read_image` and :func:`read_mask`)."""
    image = read_image(image_path)
    return CaseImages(image=image, mask=read_mask(mask_path, image, label=label, roi_name=roi_name))


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and bytes, sorted): the cache key's part."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode())
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
