"""Safe unpacking of uploaded zips: traversal, links, bombs and nested archives are refused before writing."""

from __future__ import annotations

import zipfile

import pytest

from core.io.archive import safe_extract_zip
from core.errors import RadNomoError
from tests.archives import make_zip


def test_extracts_ordinary_archives(tmp_path):
    files = safe_extract_zip(make_zip({"images/a.nii.gz": b"x" * 100, "masks/a.nii.gz": b"y"}), tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["images/a.nii.gz", "masks/a.nii.gz"]
    assert (tmp_path / "out" / "images" / "a.nii.gz").read_bytes() == b"x" * 100


@pytest.mark.parametrize(("data", "message"), [
    (b"not a zip at all", "not a zip archive"),
    (make_zip({"../escape.txt": b"x"}), "path traversal"),
    (make_zip({"/etc/cron.d/x": b"x"}), "path traversal"),
    (make_zip({"ok.txt": b"x"}, link="link"), "symbolic link"),
    (make_zip({"inner.zip": b"PK"}), "itself an archive"),
    (make_zip({"bomb.bin": b"\0" * 5_000_000}), "zip bomb"),
])
def test_unsafe_archives_are_refused_and_nothing_is_written(tmp_path, data, message):
    with pytest.raises(RadNomoError, match=message):
        safe_extract_zip(data, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*"))
    assert not (tmp_path / "escape.txt").exists()


def test_size_limits(tmp_path):
    with pytest.raises(RadNomoError, match="at most 1 are accepted"):
        safe_extract_zip(make_zip({"a": b"1", "b": b"2"}), tmp_path, max_members=1)
    with pytest.raises(RadNomoError, match="GiB"):
        safe_extract_zip(make_zip({"a": b"1" * 2000}, compression=zipfile.ZIP_STORED), tmp_path, max_total_bytes=1000)
