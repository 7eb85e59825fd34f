"""Read a CT image and its tumour mask from NIfTI, NRRD (incl. 3D Slicer .seg.nrrd and detached .nhdr),
MHA/MHD or DICOM.

Every reader returns ``(image, mask)`` as SimpleITK images on the same grid, the mask binary
(uint8, 1 = ROI). Bad input raises :class:`core.errors.RadNomoError` naming the file and the fix.

Before SimpleITK touches a file the readers check what the file could make it do, because paths
come from uploads and manifests:

* the path is a regular file (a device, FIFO or socket would hang the reader or the hash);
* a header that names a data file (MetaImage ``ElementDataFile``, NRRD ``data file``, including
  their LIST and ``%d`` pattern forms; a NIfTI .hdr/.img pair) names plain files inside the
  header's own folder: otherwise an uploaded header could make the server read any file;
* the voxel count the header declares, as stored (:data:`MAX_VOXELS`) and after the planned
  resampling (:data:`core.imaging.extraction.preprocess.MAX_RESAMPLED_VOXELS`), is within limits;

and after reading, that every voxel is a finite number. The limits are module-level constants,
read at call time, so a deployment can raise them.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import re
import stat
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError, RadNomoWarning
from core.imaging.extraction.labels import choose_by_name
from core.imaging.extraction.preprocess import check_resampled_size
from core.io.limits import limit
from core.io.paths import NotRegularFileError, file_kind, open_regular_file, require_regular_file

__all__ = [
    "MaskGeometryWarning",
    "choose_by_name",
    "read_image",
    "read_mask",
    "read_case",
    "content_hash",
    "CaseImages",
    "ImageHeader",
    "read_image_header",
    "check_data_files",
    "check_image_size",
    "check_case_size",
    "MAX_VOXELS",
    "MAX_HEADER_BYTES",
    "MAX_DATA_FILES",
    "MAX_FOLDER_FILES",
    "MAX_GZIP_EXTRA_BYTES",
    "MASK_MODALITIES",
    "dicom_modality",
    "is_volume_file",
]

# Origins that differ by less than this fraction of a voxel, and direction cosines that differ by
# less than this, count as the same grid up to rounding in the writing software.
_ORIGIN_TOLERANCE_VOXELS = 0.5
_DIRECTION_TOLERANCE = 1e-3
# Each volume format is read by its own ImageIO, never by whichever IO claims the file: the
# header checks below are per format, so the format must be the one the extension says.
_IMAGE_IO = {".nii": "NiftiImageIO", ".nii.gz": "NiftiImageIO", ".nrrd": "NrrdImageIO", ".nhdr": "NrrdImageIO",
             ".mha": "MetaImageIO", ".mhd": "MetaImageIO"}
_VOLUME_SUFFIXES = tuple(_IMAGE_IO)
_FLOAT_PIXELS = {sitk.sitkFloat32, sitk.sitkFloat64, sitk.sitkVectorFloat32, sitk.sitkVectorFloat64}

#: Most voxel values (voxels x components) an image or mask file may declare: 250,000,000
#: (250 M, e.g. 512 x 512 x 950 slices; 500 MB as int16). Checked on the header, before reading.
MAX_VOXELS = limit("MAX_VOXELS", 250_000_000)
#: How much of a MetaImage or NRRD file is read to find its header and data-file list: 4 MiB
#: (4,194,304 bytes; a header is a few hundred bytes, a LIST of 10,000 slice files about 300 KB).
MAX_HEADER_BYTES = limit("MAX_HEADER_BYTES", 4 << 20)
#: Most data files a LIST or ``%d`` pattern header may name: 10,000.
MAX_DATA_FILES = limit("MAX_DATA_FILES", 10_000)
#: Most entries (files and sub-folders) in a DICOM folder that is read or hashed: 10,000.
MAX_FOLDER_FILES = limit("MAX_FOLDER_FILES", 10_000)
#: How many bytes more than its header declares a .nii.gz may decompress to: 64 MiB
#: (67,108,864; room for NIfTI extensions). A gzip bomb would otherwise be inflated for minutes.
MAX_GZIP_EXTRA_BYTES = limit("MAX_GZIP_EXTRA_BYTES", 64 << 20)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageHeader:
    """What a volume file declares, read without its voxels.

    Attributes
    ----------
    size : tuple of int
        Voxels per axis (x, y, z).
    spacing : tuple of float
        Voxel spacing per axis (mm).
    components : int
        Values per voxel (1 for a CT).
    component_bytes : int
        Bytes per value as stored.
    """

    size: tuple[int, ...]
    spacing: tuple[float, ...]
    components: int
    component_bytes: int

    @property
    def voxels(self) -> int:
        """Number of voxels (product of ``size``)."""
        return math.prod(self.size)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".nii.gz" if name.endswith(".nii.gz") else path.suffix.lower()


def is_volume_file(path: str | Path) -> bool:
    """Whether a path names a volume file (NIfTI, NRRD, MHA/MHD) by its extension, not a DICOM file or folder."""
    return _suffix(Path(path)) in _VOLUME_SUFFIXES


def _stat(path: Path, role: str) -> os.stat_result:
    """``os.stat`` (links followed) without opening anything; a missing path is a RadNomoError."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise NotRegularFileError(f"{role} '{path}' does not exist.") from None
    except OSError as error:
        raise NotRegularFileError(f"{role} '{path}' cannot be examined ({error.strerror or error}).") from None


# ---------------------------------------------------------------------------------------------
# Header checks: data files named by headers, voxel counts
# ---------------------------------------------------------------------------------------------


def _read_head(path: Path, role: str) -> tuple[bytes, bool]:
    """The first :data:`MAX_HEADER_BYTES` of a file, and whether that is the whole file."""
    with open_regular_file(path, role) as handle:
        head = handle.read(MAX_HEADER_BYTES + 1)
    return head[:MAX_HEADER_BYTES], len(head) <= MAX_HEADER_BYTES


def _header_too_long(path: Path, role: str) -> RadNomoError:
    return RadNomoError(f"{role} '{path.name}': its header (or data-file list) is longer than {MAX_HEADER_BYTES:,} "
                        "bytes (MAX_HEADER_BYTES); a header is a few lines. Save the image as a single .nii.gz, "
                        ".nrrd or .mha file.")


# An integer printf directive, the only kind a slice-file pattern may hold: C would read any
# other directive (%s, %n) from memory that holds no argument.
_PATTERN_DIRECTIVE = re.compile(r"%[-+ #0]*\d*[diu]")


def _expand_pattern(value: str, path: Path, role: str) -> list[str]:
    """The file names of a ``pattern min max step [subdim]`` data-file field (MetaImage and NRRD)."""
    words = value.split()
    refused = RadNomoError(f"{role} header '{path.name}' names its data files with the pattern '{value}', which "
                           "is not of the form 'name%03d.raw first last step' with one integer directive; save "
                           "the image as a single .nii.gz, .nrrd or .mha file.")
    if len(words) < 4 or len(_PATTERN_DIRECTIVE.findall(words[0].replace("%%", ""))) != 1 \
            or words[0].replace("%%", "").count("%") != 1:
        raise refused
    try:
        first, last, step = (int(w) for w in words[1:4])
    except ValueError:
        raise refused from None
    if step == 0 or (last - first) * step < 0:
        raise refused
    count = (last - first) // step + 1
    if count > MAX_DATA_FILES:
        raise RadNomoError(f"{role} header '{path.name}' names {count:,} data files; at most {MAX_DATA_FILES:,} are "
                           "read (MAX_DATA_FILES).")
    return [words[0] % number for number in range(first, last + (1 if step > 0 else -1), step)]


def _file_list(lines: list[bytes], path: Path, role: str) -> list[str]:
    names = [line.decode("latin-1").strip() for line in lines]
    names = [name for name in names if name]
    if len(names) > MAX_DATA_FILES:
        raise RadNomoError(f"{role} header '{path.name}' lists {len(names):,} data files; at most {MAX_DATA_FILES:,} "
                           "are read (MAX_DATA_FILES).")
    return names


_METAIMAGE_DATA_FILE = re.compile(r"elementdatafile\s*[=:]\s*(.*)", re.IGNORECASE)


def _metaimage_data_files(path: Path, role: str) -> list[str]:
    """Data files named by a MetaImage (.mha/.mhd) header's ElementDataFile ([] when the data is LOCAL).

    Parsed as leniently as MetaIO or more (any case, ``=`` or ``:``): the line is the header's
    last, the data (LOCAL) or the file list (LIST) follows it; MetaIO takes a value starting with
    "LIST" as a list and one holding "%" as a pattern.
    """
    head, complete = _read_head(path, role)
    lines = re.split(rb"\r\n|\r|\n", head)
    for number, raw in enumerate(lines):
        match = _METAIMAGE_DATA_FILE.match(raw.decode("latin-1").strip())
        if not match:
            continue
        value = match.group(1).strip()
        if value in ("LOCAL", "Local", "local"):  # MetaIO's three spellings of inline data
            return []
        return _named_files(value, lines[number + 1:], complete, path, role)
    if not complete:
        raise _header_too_long(path, role)
    return []  # no ElementDataFile: SimpleITK refuses the file itself


def _named_files(value: str, following: list[bytes], complete: bool, path: Path, role: str) -> list[str]:
    """The data files a header's data-file field names: one file, a LIST on the lines that follow (both
    MetaImage and NRRD put it there), or a %d pattern expanded."""
    if value.upper().startswith("LIST"):
        if not complete:
            raise _header_too_long(path, role)
        return _file_list(following, path, role)
    if "%" in value:
        return _expand_pattern(value, path, role)
    return [value]


_NRRD_DATA_FILE = re.compile(r"\s*data\s*file\s*:(?!=)\s*(.*)", re.IGNORECASE)


def _nrrd_data_files(path: Path, role: str) -> list[str]:
    """Data files named by an NRRD header's ``data file:`` / ``datafile:`` field ([] for attached data).

    The header ends at the first blank line (attached data follows) or at the end of a detached
    header; a LIST names one file per line from the next line to the end of the file.
    """
    head, complete = _read_head(path, role)
    if not head.startswith(b"NRRD"):
        return []  # not NRRD: the NRRD reader refuses it itself
    # teem reads CR, LF and CRLF line ends alike (a CR-only header is read too).
    lines = re.split(rb"\r\n|\r|\n", head)
    for number, raw in enumerate(lines[1:], start=1):
        line = raw.decode("latin-1")
        if not line.strip():
            return []  # end of the header: the data is attached
        if line.startswith("#"):
            continue
        match = _NRRD_DATA_FILE.match(line)
        if not match:
            continue
        return _named_files(match.group(1).strip(), lines[number + 1:], complete, path, role)
    if not complete:
        raise _header_too_long(path, role)
    return []


def _check_single_file_nifti(path: Path, role: str) -> None:
    """Refuse a NIfTI header of a .hdr/.img pair (magic "ni1"/"ni2") or an ANALYZE header (no magic).

    Both make the NIfTI library open a second file, found by name next to this one.
    """
    with open_regular_file(path, role) as raw:
        try:
            header = gzip.GzipFile(fileobj=raw).read(540) if _suffix(path) == ".nii.gz" else raw.read(540)
        except (EOFError, OSError, zlib.error):
            return  # unreadable: the reader reports it (truncated or corrupt) below
    if len(header) < 348:
        return
    sizes = {int.from_bytes(header[:4], order) for order in ("little", "big")}
    if 348 in sizes:
        magic, single = header[344:348], b"n+1\x00"
    elif 540 in sizes:
        magic, single = header[4:8], b"n+2\x00"
    else:
        return  # not a NIfTI header at all: the reader refuses it
    if magic != single:
        raise RadNomoError(f"{role} '{path.name}' has the header of a NIfTI .hdr/.img pair or of an ANALYZE file "
                           f"(magic {magic!r}), which makes the reader open a second file; save it as a single-file "
                           "NIfTI (.nii or .nii.gz).")


def _checked_data_file(name: str, folder: Path, header: Path, role: str) -> Path:
    what = f"{role} header '{header.name}' names the data file '{name}'"
    parts = re.split(r"[/\\]", name)
    if not name or any(ord(c) < 32 for c in name) or name.startswith(("/", "\\", "~")) \
            or re.match(r"[A-Za-z]:", name) or "\\" in name or ".." in parts:
        raise RadNomoError(f"{what}, which is not a plain file name inside the header's folder (absolute paths, "
                           "'..', '~' and backslashes are refused: a header could otherwise make the server read any "
                           "file). Put the data file next to the header and name it without a folder, or save the "
                           "image as a single .nii.gz, .nrrd or .mha file.")
    target = folder / name
    resolved = target.resolve()
    if not resolved.is_relative_to(folder.resolve()):
        raise RadNomoError(f"{what}, a link that leads outside the header's folder (to '{resolved}'); links out of "
                           "the folder are refused. Copy the data file next to the header.")
    info = _stat(target, f"data file '{name}' named by {role} header '{header.name}'")
    if not stat.S_ISREG(info.st_mode):
        raise NotRegularFileError(f"{what}, which is a {file_kind(info.st_mode)}, not a regular file.")
    return resolved


def check_data_files(path: str | Path, role: str = "image") -> list[Path]:
    """Check the data files a volume's header names, before any reader opens them.

    A MetaImage (.mha/.mhd) ``ElementDataFile`` and an NRRD (.nrrd/.nhdr) ``data file`` /
    ``datafile`` field, in their single, LIST and ``%d`` pattern forms, must name plain files
    inside the header's own folder (sub-folders allowed): no absolute path, no ``..``, no ``~``,
    no link that resolves outside the folder, and each a regular file. ``LOCAL`` (inline) data
    and attached NRRD data name none. A .nii/.nii.gz must be a single-file NIfTI.

    Parameters
    ----------
    path : path
        The header (or single-file volume).
    role : str
        How messages call it ("image", "mask").

    Returns
    -------
    list of Path
        The data files named, resolved (empty when the data is in the file itself).

    Raises
    ------
    RadNomoError
        Naming the header, the offending reference and what to do.
    """
    path = Path(path)
    suffix = _suffix(path)
    if suffix in (".mha", ".mhd"):
        names = _metaimage_data_files(path, role)
    elif suffix in (".nrrd", ".nhdr"):
        names = _nrrd_data_files(path, role)
    else:
        if suffix in (".nii", ".nii.gz"):
            _check_single_file_nifti(path, role)
        return []
    folder = path.absolute().parent
    return [_checked_data_file(name, folder, path, role) for name in names]


def _component_bytes(pixel_id: int) -> int:
    text = sitk.GetPixelIDValueAsString(pixel_id)
    bits = re.search(r"(\d+)-bit", text)
    size = int(bits.group(1)) // 8 if bits else 8
    return 2 * size if "complex" in text else size


def _unreadable(path: Path, role: str, error: Exception) -> RadNomoError:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    first_line = lines[0] if lines else "unreadable"
    return RadNomoError(f"{role} '{path.name}' could not be read ({first_line[:200]}); is the file complete and of "
                        "the format its extension says?")


def read_image_header(path: str | Path, role: str = "image") -> ImageHeader:
    """Read a volume file's header only (no voxels), after the regular-file and data-file checks.

    Parameters
    ----------
    path : path
        A NIfTI, NRRD or MetaImage file.
    role : str
        How messages call it.

    Returns
    -------
    ImageHeader

    Raises
    ------
    RadNomoError
        If the path is not a regular file of a supported format, names data files it may not
        (:func:`check_data_files`), or its header is unreadable.
    """
    path = Path(path)
    require_regular_file(path, role)
    suffix = _suffix(path)
    if suffix not in _IMAGE_IO:
        raise RadNomoError(f"{role} '{path.name}' is not a supported format; use NIfTI, NRRD, MHA/MHD or a DICOM "
                           "series folder.")
    check_data_files(path, role)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.SetImageIO(_IMAGE_IO[suffix])
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise _unreadable(path, role, error) from error
    return ImageHeader(size=tuple(reader.GetSize()), spacing=tuple(reader.GetSpacing()),
                       components=int(reader.GetNumberOfComponents()),
                       component_bytes=_component_bytes(reader.GetPixelID()))


def check_image_size(header: ImageHeader, *, spacing_mm: Sequence[float] | None = None,
                     name: str = "the image") -> None:
    """Refuse an image whose header declares too many voxels, as stored or after resampling.

    Parameters
    ----------
    header : ImageHeader
        From :func:`read_image_header` (or built from a DICOM series' first slice).
    spacing_mm : sequence of 3 floats, optional
        The planned resampling (``PreprocessConfig.spacing_mm``); None checks the stored size only.
    name : str
        How the message calls the image.

    Raises
    ------
    RadNomoError
        Over :data:`MAX_VOXELS` voxel values as stored, or over
        :data:`core.imaging.extraction.preprocess.MAX_RESAMPLED_VOXELS` after resampling.
    """
    values = header.voxels * header.components
    if values > MAX_VOXELS:
        raise RadNomoError(f"{name} declares {' x '.join(map(str, header.size))} voxels"
                           + (f" x {header.components} components" if header.components > 1 else "")
                           + f" = {values / 1e6:,.0f} M values; RadNomo reads images of up to {MAX_VOXELS / 1e6:,.0f} M"
                           " voxels (MAX_VOXELS). Check the header's dimensions, or crop the scan to the region of "
                           "interest.")
    if spacing_mm is not None and len(header.size) == len(spacing_mm):
        check_resampled_size(header.size, header.spacing, spacing_mm, name=name)


def check_case_size(image_path: str | Path, spacing_mm: Sequence[float] | None = None) -> ImageHeader:
    """Header-only check of a case's image before anything is read: the size as stored and after resampling.

    :func:`read_case` runs the same checks when given ``spacing_mm``; a batch can call this on its
    own to refuse a case before hashing or reading its voxels.

    Parameters
    ----------
    image_path : path
        A volume file or a DICOM series folder.
    spacing_mm : sequence of 3 floats, optional
        The planned target spacing (``PreprocessConfig.spacing_mm``; None = no resampling).

    Returns
    -------
    ImageHeader

    Raises
    ------
    RadNomoError
        As :func:`read_image_header`, :func:`check_data_files` and :func:`check_image_size`.
    """
    path = Path(image_path)
    if stat.S_ISDIR(_stat(path, "image").st_mode):
        _, header = _dicom_series(path)
    else:
        header = read_image_header(path, "image")
    check_image_size(header, spacing_mm=spacing_mm, name=f"image '{path.name}'")
    return header


def _check_finite(image: sitk.Image, name: str, role: str) -> None:
    """Refuse non-finite voxels anywhere in the volume, with their count.

    Anywhere, not only inside the ROI: B-spline resampling and pyradiomics' filters (wavelet,
    LoG) mix each voxel with its neighbours, so a NaN outside the mask reaches the features; and
    a CT holds a number in every voxel, so a NaN means a broken conversion (they would otherwise
    read as 0 HU downstream). Only floating-point volumes can hold them.
    """
    if image.GetPixelID() not in _FLOAT_PIXELS:
        return
    array = sitk.GetArrayViewFromImage(image)
    bad = 0
    for start in range(0, array.shape[0], 16):  # slabs: the temporary mask stays small
        bad += int(np.count_nonzero(~np.isfinite(array[start:start + 16])))
    if bad:
        raise RadNomoError(f"{role} '{name}' has {bad:,} of {array.size:,} voxels that are not numbers (NaN or "
                           "infinite); they would be read as 0 HU or spread by resampling. Fix the conversion that "
                           "wrote the file (e.g. fill them with -1024 HU, air) and export it again.")


# ---------------------------------------------------------------------------------------------
# Reading volumes and DICOM series
# ---------------------------------------------------------------------------------------------


def read_image(path: str | Path, *, spacing_mm: Sequence[float] | None = None) -> sitk.Image:
    """Read a 3D image from a volume file or a DICOM series folder.

    Parameters
    ----------
    path : path
        A NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd) file or a folder
        holding one DICOM series.
    spacing_mm : sequence of 3 floats, optional
        The spacing the image will be resampled to; given, the resampled size is checked on the
        header (:func:`check_image_size`) before any voxel is read.

    Returns
    -------
    SimpleITK.Image

    Raises
    ------
    RadNomoError
        If the path is missing, not a regular file or folder, not a supported format, names data
        files outside its folder, declares too many voxels, is unreadable, not 3D, not
        single-channel, or holds NaN or infinite voxels.
    """
    path = Path(path)
    info = _stat(path, "image")
    if stat.S_ISDIR(info.st_mode):
        image = _read_dicom_series(path, spacing_mm)
    else:
        if _suffix(path) not in _VOLUME_SUFFIXES:
            raise RadNomoError(f"image '{path.name}' is not a supported format; use NIfTI, NRRD, MHA/MHD or a DICOM "
                               "series folder.")
        image = _read_volume(path, "image", spacing_mm)
    if image.GetDimension() != 3 or min(image.GetSize()) < 1:
        raise RadNomoError(f"image '{path.name}' is {image.GetDimension()}D; a 3D CT volume is required.")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise RadNomoError(f"image '{path.name}' has {image.GetNumberOfComponentsPerPixel()} components per voxel; "
                           "a single-channel CT is required.")
    _check_finite(image, path.name, "image")
    return image


class _NiftiNonFinite:
    """Counts NaN and infinite values among a NIfTI file's floating-point voxels as its bytes stream past.

    Needed because ITK's NIfTI reader replaces them with 0 while reading, so the image it returns
    cannot show them. Integer data (CT as stored) is skipped: it cannot hold them.
    """

    # NIfTI datatype codes of floating-point voxels: float32, complex64, float64, complex128.
    _FLOATS = {16: "f4", 32: "c8", 64: "f8", 1792: "c16"}

    def __init__(self) -> None:
        self.head = b""
        self.dtype: np.dtype | None = None
        self.start = self.end = 0
        self.position = 0  # file offset of the next byte fed
        self.rest = b""
        self.skip = False
        self.bad = self.total = 0

    def _parse(self) -> None:
        head = self.head
        order = "<" if int.from_bytes(head[:4], "little") in (348, 540) else ">"
        size = int.from_bytes(head[:4], "little" if order == "<" else "big")
        if size == 348:
            datatype = int(np.frombuffer(head[70:72], f"{order}i2")[0])
            dims = np.frombuffer(head[40:56], f"{order}i2").astype(np.int64)
            offset = int(np.frombuffer(head[108:112], f"{order}f4")[0])
        elif size == 540:
            datatype = int(np.frombuffer(head[12:14], f"{order}i2")[0])
            dims = np.frombuffer(head[16:80], f"{order}i8")
            offset = int(np.frombuffer(head[168:176], f"{order}i8")[0])
        else:
            self.skip = True
            return
        if datatype not in self._FLOATS or not 1 <= dims[0] <= 7:
            self.skip = True
            return
        self.dtype = np.dtype(order + self._FLOATS[datatype])
        self.start = max(offset, size)
        self.end = self.start + int(np.prod(np.maximum(dims[1:dims[0] + 1], 1))) * self.dtype.itemsize

    def feed(self, chunk: bytes) -> None:
        if self.skip:
            return
        if self.dtype is None:
            self.head += chunk
            first = self.head[:4].ljust(4, b"\0")
            needed = 348 if 348 in (int.from_bytes(first, "little"), int.from_bytes(first, "big")) else 540
            if len(self.head) < needed:
                return  # wait for the whole header (NIfTI-1: 348 bytes, NIfTI-2: 540)
            self._parse()
            chunk, self.head = self.head, b""
            if self.skip:
                return
        low, high = max(self.start, self.position), min(self.end, self.position + len(chunk))
        if high > low:
            data = self.rest + chunk[low - self.position:high - self.position]
            usable = len(data) - len(data) % self.dtype.itemsize
            values = np.frombuffer(data[:usable], self.dtype)
            self.bad += int(np.count_nonzero(~np.isfinite(values)))
            self.total += len(values)
            self.rest = data[usable:]
        self.position += len(chunk)


def _check_complete(path: Path, role: str, header: ImageHeader) -> None:
    """Stream a .gz or NIfTI file once: refuse it truncated, over-long, or holding non-finite voxels.

    * truncated: ITK's NIfTI reader can return a volume padded with zeros instead;
    * over-long: a .gz is decompressed no further than the header's voxels plus
      :data:`MAX_GZIP_EXTRA_BYTES` (a gzip bomb would otherwise keep it busy for minutes);
    * NaN or infinite voxels in a NIfTI: ITK's reader turns them into 0, so they must be counted in
      the file (other formats keep them, and :func:`_check_finite` counts them in the image).
    """
    compressed = path.name.lower().endswith(".gz")
    counter = _NiftiNonFinite() if _suffix(path) in (".nii", ".nii.gz") else None
    if not compressed and counter is None:
        return
    limit = header.voxels * header.components * header.component_bytes + MAX_GZIP_EXTRA_BYTES
    total = 0
    with open_regular_file(path, role) as raw:
        try:
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            while chunk := stream.read(1 << 22):
                total += len(chunk)
                if compressed and total > limit:
                    raise RadNomoError(f"{role} '{path.name}' decompresses to more than {limit:,} bytes, far more "
                                       "than the voxels its header declares; the file is corrupt (or a "
                                       "decompression bomb) and is refused.")
                if counter is not None:
                    counter.feed(chunk)
                    if counter.skip and not compressed:
                        break  # integer voxels, nothing to count, and a plain file needs no inflating
        except (EOFError, OSError, zlib.error) as error:
            raise RadNomoError(f"{role} '{path.name}' could not be read: the compressed file is truncated or "
                               f"corrupt ({error}).") from error
    if counter is not None and counter.bad:
        raise RadNomoError(f"{role} '{path.name}' has {counter.bad:,} of {counter.total:,} voxels that are not "
                           "numbers (NaN or infinite); the NIfTI reader would turn them into 0 (0 HU), and other "
                           "readers would spread them by resampling. Fix the conversion that wrote the file (e.g. "
                           "fill them with -1024 HU, air) and export it again.")


def _read_volume(path: Path, role: str, spacing_mm: Sequence[float] | None = None) -> sitk.Image:
    header = read_image_header(path, role)  # regular file, data files, header readable
    check_image_size(header, spacing_mm=spacing_mm, name=f"{role} '{path.name}'")
    _check_complete(path, role, header)
    try:
        image = sitk.ReadImage(str(path), imageIO=_IMAGE_IO[_suffix(path)])
    except RuntimeError as error:
        raise _unreadable(path, role, error) from error
    if path.suffix.lower() == ".nii":
        expected = int(np.prod(image.GetSize())) * image.GetNumberOfComponentsPerPixel() * \
            sitk.GetArrayViewFromImage(image).itemsize
        if path.stat().st_size < expected:
            raise RadNomoError(f"{role} '{path.name}' could not be read: the file is truncated "
                               f"({path.stat().st_size} bytes for {expected} bytes of voxels).")
    return image


def _folder_files(folder: Path, role: str, *, recursive: bool) -> list[Path]:
    """The regular files in a folder (sorted), refusing devices, FIFOs, sockets and dangling links.

    Checked from the inodes before any reader opens an entry (GDCM opens every file of a folder
    to find its series; a FIFO would block it). Stops at :data:`MAX_FOLDER_FILES` entries.
    """
    files = []
    for count, entry in enumerate(folder.rglob("*") if recursive else folder.iterdir(), start=1):
        if count > MAX_FOLDER_FILES:
            raise RadNomoError(f"{role} folder '{folder.name}' has more than {MAX_FOLDER_FILES:,} entries "
                               "(MAX_FOLDER_FILES); put one DICOM series (or one mask file) per folder.")
        try:
            mode = os.stat(entry).st_mode
        except OSError:
            raise NotRegularFileError(f"{role} folder '{folder.name}' holds '{entry.relative_to(folder)}', a link to "
                                      "nothing; remove it.") from None
        if stat.S_ISDIR(mode):
            continue
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(f"{role} folder '{folder.name}' holds '{entry.relative_to(folder)}', a "
                                      f"{file_kind(mode)}; the folder must hold regular files only.")
        files.append(entry)
    return sorted(files)


def _dicom_series(folder: Path) -> tuple[list[str], ImageHeader]:
    """The files of a folder's one DICOM series (checked) and the volume's header, without pixel data."""
    _folder_files(folder, "image", recursive=False)
    reader = sitk.ImageSeriesReader()
    series = reader.GetGDCMSeriesIDs(str(folder))
    if not series:
        raise RadNomoError(f"no DICOM image series found in folder '{folder.name}'.")
    if len(series) > 1:
        # A DICOM-SEG (or RTSTRUCT) saved beside its CT is a series of its own: the image is the series
        # that is not a segmentation object.
        series = [s for s in series if not _is_mask_series(reader.GetGDCMSeriesFileNames(str(folder), s))]
        if len(series) != 1:
            raise RadNomoError(f"folder '{folder.name}' holds {len(series)} DICOM image series; put one series per "
                               "folder (a SEG or RTSTRUCT may sit beside it).")
    files = list(reader.GetGDCMSeriesFileNames(str(folder), series[0]))
    if len(files) < 2:
        raise RadNomoError(f"DICOM series in '{folder.name}' has {len(files)} slice(s); a 3D series is required.")
    gap = _check_slice_spacing(files, folder)
    first = sitk.ImageFileReader()
    first.SetFileName(files[0])
    try:
        first.ReadImageInformation()
    except RuntimeError as error:
        raise RadNomoError(f"DICOM series in '{folder.name}' could not be read: {str(error).splitlines()[0][:200]}") \
            from error
    size, spacing = first.GetSize(), first.GetSpacing()
    frames = size[2] if len(size) > 2 else 1
    header = ImageHeader(size=(size[0], size[1], len(files) * frames),
                         spacing=(spacing[0], spacing[1], gap or (spacing[2] if len(spacing) > 2 else 1.0)),
                         components=int(first.GetNumberOfComponents()),
                         component_bytes=_component_bytes(first.GetPixelID()))
    return files, header


#: DICOM modalities of segmentation objects: never the image series, always a mask.
MASK_MODALITIES = ("RTSTRUCT", "SEG")


def dicom_modality(path: str | Path) -> str | None:
    """The Modality of a DICOM file ('' when it has none), None when the file is not DICOM (header only read)."""
    import pydicom

    try:
        header = pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["Modality"])
    except Exception:  # not DICOM: pydicom raises several types  # noqa: BLE001
        return None
    return str(getattr(header, "Modality", ""))


def _is_mask_series(files: Sequence[str]) -> bool:
    return bool(files) and dicom_modality(files[0]) in MASK_MODALITIES


def _read_dicom_series(folder: Path, spacing_mm: Sequence[float] | None = None) -> sitk.Image:
    files, header = _dicom_series(folder)
    check_image_size(header, spacing_mm=spacing_mm, name=f"DICOM series in '{folder.name}'")
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files)
    try:
        return reader.Execute()
    except RuntimeError as error:
        raise RadNomoError(f"DICOM series in '{folder.name}' could not be read: {str(error).splitlines()[0][:200]}") \
            from error


def _check_slice_spacing(files: Sequence[str], folder: Path) -> float | None:
    """Refuse a series with missing slices (uneven gaps), which would silently distort the volume.

    Returns the median gap between slices (mm), or None when the slices carry no position.
    """
    import pydicom

    positions = []
    for name in files:
        header = pydicom.dcmread(name, stop_before_pixels=True, specific_tags=["ImagePositionPatient",
                                                                               "ImageOrientationPatient"])
        if "ImagePositionPatient" not in header:
            return None
        orientation = np.array(header.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        positions.append(float(np.dot(normal, np.array(header.ImagePositionPatient, dtype=float))))
    gaps = np.diff(np.sort(positions))
    if len(gaps) and (gaps.min() <= 0 or gaps.max() > 1.5 * np.median(gaps)):
        raise RadNomoError(f"DICOM series in '{folder.name}' has uneven slice gaps ({gaps.min():.2f}-{gaps.max():.2f} "
                           "mm): slices are missing or duplicated.")
    return float(np.median(gaps)) if len(gaps) else None


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
        If the path is not a regular file or folder, the file is unreadable or names data files
        outside its folder, the ROI/label is absent, the mask is empty, holds NaN, or its grid
        cannot be matched to the image.
    """
    path = Path(path)
    mode = _stat(path, "mask").st_mode
    if stat.S_ISDIR(mode):
        dicom_files = _folder_files(path, "mask", recursive=False)
        if len(dicom_files) > 1:  # the mask's folder may be the CT's: its one RTSTRUCT or SEG file is the mask
            dicom_files = [f for f in dicom_files if dicom_modality(f) in MASK_MODALITIES]
        if len(dicom_files) != 1:
            raise RadNomoError(f"mask folder '{path.name}' must hold exactly one RTSTRUCT or SEG file, "
                               f"it holds {len(dicom_files)}.")
        path = dicom_files[0]
    elif not stat.S_ISREG(mode):
        raise NotRegularFileError(f"mask '{path}' is a {file_kind(mode)}, not a regular file or a folder.")
    if _suffix(path) in _VOLUME_SUFFIXES:
        if path.name.lower().endswith(".seg.nrrd"):
            mask = _slicer_segment(path, roi_name)
        else:
            labels = _read_volume(path, "mask")
            _check_finite(labels, path.name, "mask")  # NaN != 0: with label=None it would count as ROI
            mask = _binary_from_labels(labels, label, path.name)
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
    _check_finite(segmentation, path.name, "mask")
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
              roi_name: str | None = None, spacing_mm: Sequence[float] | None = None) -> CaseImages:
    """Read an image and its mask (see :func:`read_image` and :func:`read_mask`).

    Parameters
    ----------
    image_path, mask_path : path
    label, roi_name
        As :func:`read_mask`.
    spacing_mm : sequence of 3 floats, optional
        The spacing the case will be resampled to (``PreprocessConfig.spacing_mm``): given, a
        header whose resampled grid would exceed ``MAX_RESAMPLED_VOXELS`` is refused before any
        voxel is read (:func:`preprocess.resample_to_spacing` checks again in any case).

    Returns
    -------
    CaseImages

    Raises
    ------
    RadNomoError
        As :func:`read_image` and :func:`read_mask`.
    """
    image = read_image(image_path, spacing_mm=spacing_mm)
    return CaseImages(image=image, mask=read_mask(mask_path, image, label=label, roi_name=roi_name))


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a folder's files (names and bytes, sorted): the cache key's part.

    Parameters
    ----------
    path : path
        A regular file, or a folder (its files, recursively, at most :data:`MAX_FOLDER_FILES`
        entries).

    Returns
    -------
    str
        The hex digest.

    Raises
    ------
    NotRegularFileError
        (a RadNomoError and an OSError) If the path is missing, or is or holds a device, FIFO,
        socket or dangling link: checked before anything is opened, as reading ``/dev/zero``
        never ends and opening a FIFO blocks.
    """
    path = Path(path)
    mode = _stat(path, "file").st_mode
    is_folder = stat.S_ISDIR(mode)
    if not is_folder and not stat.S_ISREG(mode):
        raise NotRegularFileError(f"'{path}' is a {file_kind(mode)}, not a regular file or a folder; give the path "
                                  "of an image or mask file, or of a DICOM folder.")
    digest = hashlib.sha256()
    files = _folder_files(path, "folder", recursive=True) if is_folder else [path]
    for file in files:
        if is_folder:
            digest.update(file.relative_to(path).as_posix().encode())
        with open_regular_file(file, "file") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
