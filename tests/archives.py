"""Building zip archives for the tests of upload safety (shared by the core and page tests)."""

from __future__ import annotations

import io
import stat
import zipfile


def make_zip(members: dict[str, bytes], *, link: str | None = None, compression=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members`` (name -> bytes), plus a symbolic-link member named ``link`` (to /etc/passwd)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()
