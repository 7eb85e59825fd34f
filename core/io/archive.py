"""Safe extraction of uploaded zip archives (images and masks for a manifest, saved studies).

Everything is checked from the archive's central directory before a byte is written: the number of
members (first from the end-of-central-directory record, before the directory itself is parsed), their
names (path traversal, links, names too long, duplicates such as two ``study.json`` entries, names the
caller does not expect), their declared sizes and compression ratios. Extraction then never writes more
than a member declares. Every failure is a :class:`core.errors.RadNomoError`; what was written before a
failure (a damaged member found while unpacking) is removed again.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from core.errors import RadNomoError
from core.io.limits import limit

__all__ = ["safe_extract_zip", "declared_member_count", "MAX_ARCHIVE_MEMBERS", "MAX_STUDY_ZIP_MEMBERS"]

_NESTED_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar")
#: Most entries of an uploaded image archive (``RADNOMO_MAX_ARCHIVE_MEMBERS``): 200,000 (a cohort of
#: DICOM series can hold tens of thousands of slices).
MAX_ARCHIVE_MEMBERS = limit("MAX_ARCHIVE_MEMBERS", 200_000)
#: Most entries of a study archive (``RADNOMO_MAX_STUDY_ZIP_MEMBERS``): 10,000. A saved study holds tens of
#: files (study.json and a Parquet table per family and result); more is junk, refused before unpacking.
MAX_STUDY_ZIP_MEMBERS = limit("MAX_STUDY_ZIP_MEMBERS", 10_000)
#: Longest member name component in bytes (most file systems' limit): longer names would fail on writing.
_MAX_NAME_BYTES = 255

_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def declared_member_count(data: bytes) -> int | None:
    """The number of entries an archive's end-of-central-directory record declares, or None if it has none.

    Read from the last 64 kB (the record and its comment) without parsing the central directory, so an
    archive declaring millions of entries is refused before Python builds an object for each. Zip64
    archives give the count in their own record.
    """
    tail_start = max(0, len(data) - (22 + 0xFFFF))
    position = data.rfind(_EOCD, tail_start)
    if position < 0 or position + 22 > len(data):
        return None
    count = struct.unpack_from("<H", data, position + 10)[0]
    locator = position - 20
    if count == 0xFFFF and locator >= 0 and data[locator:locator + 4] == _ZIP64_LOCATOR:
        record = struct.unpack_from("<Q", data, locator + 8)[0]
        if record + 56 <= len(data) and data[record:record + 4] == _ZIP64_EOCD:
            count = struct.unpack_from("<Q", data, record + 32)[0]
    return int(count)


def _member_parts(name: str) -> tuple[str, ...]:
    """A member's path components, refusing absolute paths, ``..``, drive letters and over-long names."""
    parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", "."))
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise RadNomoError(f"archive member '{name[:200]}' points outside the archive (path traversal); refused.")
    if not parts:
        raise RadNomoError(f"archive member '{name[:200]}' has no file name; refused.")
    if any(len(part.encode("utf-8", "surrogateescape")) > _MAX_NAME_BYTES for part in parts):
        raise RadNomoError(f"archive member '{name[:80]}...' has a name longer than {_MAX_NAME_BYTES} bytes; "
                           "rename it and zip again.")
    return parts


def safe_extract_zip(data: bytes, dest: str | Path, *, max_total_bytes: int = 8 << 30, max_members: int | None = None,
                     max_ratio: float = 200.0, allowed: Callable[[str], bool] | None = None) -> list[Path]:
    """Extract a zip archive into ``dest``, refusing anything unsafe before writing anything.

    Parameters
    ----------
    data : bytes
        The archive.
    dest : path
        Destination folder (created); nothing is written outside it.
    max_total_bytes : int
        Limit on the sum of the members' declared uncompressed sizes.
    max_members : int, optional
        Limit on the number of entries (folders included); :data:`MAX_ARCHIVE_MEMBERS` by default,
        :data:`MAX_STUDY_ZIP_MEMBERS` for a study archive.
    max_ratio : float
        Largest allowed compression ratio of a member (zip bombs exceed it by far).
    allowed : callable, optional
        ``allowed(name)`` is False for a member name the caller does not expect (e.g. anything but
        ``study.json`` and ``data/*.parquet`` in a study archive): such an archive is refused before
        anything is written.

    Returns
    -------
    list of Path
        The extracted files.

    Raises
    ------
    RadNomoError
        For a file that is not a zip, too many entries, a member name used twice, a member with an
        absolute path or ``..`` (path traversal), a name over 255 bytes, a symbolic link, a nested archive
        other than .nii.gz, a name ``allowed`` refuses, sizes or ratios above the limits (all checked
        before anything is written); and while unpacking, an encrypted member, an unsupported compression,
        a bad checksum or a member larger than it declares (what was written is then removed).
    """
    max_members = MAX_ARCHIVE_MEMBERS if max_members is None else max_members
    declared = declared_member_count(data)
    if declared is None or not zipfile.is_zipfile(io.BytesIO(data)):
        raise RadNomoError("the upload is not a zip archive.")
    if declared > max_members:
        raise RadNomoError(f"the archive declares {declared:,} entries; at most {max_members:,} are accepted "
                           "(nothing was unpacked).")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error) as error:
        raise RadNomoError(f"the archive cannot be read ({error}).") from error
    dest = Path(dest).resolve()
    with archive:
        entries = archive.infolist()
        if len(entries) > max_members:  # the record can understate what the directory holds
            raise RadNomoError(f"the archive has {len(entries):,} entries; at most {max_members:,} are accepted "
                               "(nothing was unpacked).")
        members = [m for m in entries if not m.is_dir()]
        total = sum(m.file_size for m in members)
        if total > max_total_bytes:
            raise RadNomoError(f"the archive unpacks to {total / 2**30:.1f} GiB; at most "
                               f"{max_total_bytes / 2**30:.1f} GiB are accepted.")
        seen: dict[tuple[str, ...], str] = {}
        targets = []
        for member in members:
            name = member.filename
            parts = _member_parts(name)
            if parts in seen:  # zipfile keeps both entries and the last one written would win
                raise RadNomoError(f"the archive holds '{name}' twice; an archive with duplicated entries is "
                                   "refused (which one is meant is unknown).")
            seen[parts] = name
            if allowed is not None and not allowed(name):
                raise RadNomoError(f"the archive holds '{name[:200]}', which does not belong in it; refused "
                                   "(nothing was unpacked).")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise RadNomoError(f"archive member '{name}' is a symbolic link; links are refused.")
            lower = name.lower()
            if lower.endswith(_NESTED_ARCHIVES) and not lower.endswith((".nii.gz",)):
                raise RadNomoError(f"archive member '{name}' is itself an archive; unpack it and zip the files.")
            if member.compress_size and member.file_size / member.compress_size > max_ratio:
                raise RadNomoError(f"archive member '{name}' expands {member.file_size / member.compress_size:.0f}-fold"
                                   "; this looks like a zip bomb and is refused.")
            target = (dest / Path(*parts)).resolve()
            if not target.is_relative_to(dest):
                raise RadNomoError(f"archive member '{name}' points outside the archive; refused.")
            targets.append((member, target))
        written: list[Path] = []
        try:
            for member, target in targets:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as sink:
                    written.append(target)
                    remaining = member.file_size
                    while chunk := source.read(1 << 20):
                        remaining -= len(chunk)
                        if remaining < 0:  # the header lied about the size
                            raise RadNomoError(f"archive member '{member.filename}' is larger than it declares; "
                                               "refused.")
                        sink.write(chunk)
        except BaseException as error:
            for path in written:
                path.unlink(missing_ok=True)
            if isinstance(error, RadNomoError) or not isinstance(error, Exception):
                raise
            if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
                raise RadNomoError(f"the archive cannot be unpacked ({error.strerror or error}); a member's name "
                                   "clashes with a folder's, or the disk is full.") from error
            if isinstance(error, (RuntimeError, NotImplementedError, zlib.error, zipfile.BadZipFile, EOFError,
                                  ValueError)):
                # zipfile raises these for encrypted members, unsupported compression and bad checksums.
                raise RadNomoError(f"the archive cannot be unpacked ({type(error).__name__}: {error}).") from error
            raise
    return [target for _, target in targets]
