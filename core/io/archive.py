"""Safe extraction of uploaded zip archives (images and masks for a manifest)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import RadNomoError

__all__ = ["safe_extract_zip"]

_NESTED_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar")


def safe_extract_zip(data: bytes, dest: str | Path, *, max_total_bytes: int = 8 << 30, max_members: int = 200_000,
                     max_ratio: float = 200.0) -> list[Path]:
    """Extract a zip archive into ``dest``, refusing anything unsafe.

    Parameters
    ----------
    data : bytes
        The archive.
    dest : path
        Destination folder (created); nothing is written outside it.
    max_total_bytes, max_members : int
        Limits on the uncompressed size and the number of members.
    max_ratio : float
        Largest allowed compression ratio of a member (zip bombs exceed it by far).

    Returns
    -------
    list of Path
        The extracted files.

    Raises
    ------
    RadNomoError
        For a file that is not a zip, a member with an absolute path or ``..`` (path traversal),
        a symbolic link, a nested archive other than .nii.gz/.seg.nrrd, or sizes above the limits.
        Checks run before anything is written.
    """
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise RadNomoError("the upload is not a zip archive.")
    dest = Path(dest).resolve()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > max_members:
            raise RadNomoError(f"the archive has {len(members)} files; at most {max_members} are accepted.")
        total = sum(m.file_size for m in members)
        if total > max_total_bytes:
            raise RadNomoError(f"the archive unpacks to {total / 2**30:.1f} GiB; at most "
                               f"{max_total_bytes / 2**30:.1f} GiB are accepted.")
        targets = []
        for member in members:
            name = member.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise RadNomoError(f"archive member '{name}' points outside the archive (path traversal); refused.")
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
        for member, target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as source, target.open("wb") as sink:
                remaining = member.file_size
                while chunk := source.read(1 << 20):
                    remaining -= len(chunk)
                    if remaining < 0:  # the header lied about the size
                        raise RadNomoError(f"archive member '{member.filename}' is larger than it declares; refused.")
                    sink.write(chunk)
    return [target for _, target in targets]
