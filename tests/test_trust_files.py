"""Issue 24, the findings in files, archives and command lines: zip members checked before writing (counts,
duplicates, names), JSON read under a byte limit, corrupt feature stores, numeric bounds on every option of
the extraction, autoencoder, validation and synthetic commands, autoencoder outputs that a kill cannot mix,
and no foreign exception from any of them.

Bombs run in a child process under an address-space cap (tests.core.test_input_safety.run_capped); the
autoencoder runs are real processes killed by PID.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from core.errors import RadNomoError
from core.io.archive import safe_extract_zip
from core.io.limits import LIMITS
from tests.archives import make_zip
from tests.core.test_input_safety import assert_refused, run_capped

REPO = Path(__file__).resolve().parents[1]


def _many_member_zip(n: int) -> bytes:
    """A valid zip64 archive of ``n`` empty stored members, built directly (zipfile takes 5 s for 150,000)."""
    local, central, offset = [], [], 0
    for i in range(n):
        name = f"junk/{i}.txt".encode()
        header = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0) + name
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0, 0, 0, 0,
                                   0, offset) + name)
        local.append(header)
        offset += len(header)
    directory = b"".join(central)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(directory), offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(directory), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return b"".join(local) + directory + zip64 + locator + end


# ---------------------------------------------------------------------------------------------
# 1. Zip members: counted, named and sized from the central directory before anything is written
# ---------------------------------------------------------------------------------------------

def test_a_study_zip_of_150000_junk_members_is_refused_before_anything_is_written(tmp_path):
    from core.io.archive import MAX_STUDY_ZIP_MEMBERS, declared_member_count

    data = _many_member_zip(150_000)
    assert declared_member_count(data) == 150_000
    assert MAX_STUDY_ZIP_MEMBERS == LIMITS["MAX_STUDY_ZIP_MEMBERS"] == 10_000
    dest = tmp_path / "staging"
    with pytest.raises(RadNomoError, match="150,000 entries; at most 10,000"):
        safe_extract_zip(data, dest, max_members=MAX_STUDY_ZIP_MEMBERS)
    # Refused from the count alone: nothing written (34 s of writing junk before); no timing asserted here.
    assert not dest.exists() or not any(dest.iterdir())


def test_the_study_zip_member_limit_is_adjustable_from_the_environment():
    out = subprocess.run([sys.executable, "-c", "from core.io.archive import MAX_STUDY_ZIP_MEMBERS as m; print(m)"],
                         cwd=REPO, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO), "RADNOMO_MAX_STUDY_ZIP_MEMBERS": "50"})
    assert out.stdout.strip() == "50", out.stderr[-2000:]


def test_a_duplicated_entry_is_refused_by_name_before_writing(tmp_path):
    import io
    import warnings

    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate, and writes it
        archive.writestr("data/a.parquet", b"PAR1")
        archive.writestr("study.json", b'{"name": "first"}')
        archive.writestr("study.json", b'{"name": "second"}')
    with pytest.raises(RadNomoError, match="'study.json' twice"):
        safe_extract_zip(buffer.getvalue(), tmp_path / "dest")
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").rglob("*"))
    # The same name spelt differently (a leading ./, a backslash) is the same file once unpacked.
    with pytest.raises(RadNomoError, match="twice"):
        safe_extract_zip(make_zip({"data/x.parquet": b"1", "data\\x.parquet": b"2"}), tmp_path / "dest2")


def test_names_the_caller_does_not_expect_are_refused_before_writing(tmp_path):
    data = make_zip({"study.json": b"{}", "data/a.parquet": b"PAR1", "notes/readme.txt": b"hello"})
    with pytest.raises(RadNomoError, match="notes/readme.txt"):
        safe_extract_zip(data, tmp_path / "dest", allowed=lambda name: name == "study.json"
                         or name.startswith("data/"))
    assert not any((tmp_path / "dest").rglob("*"))
    assert len(safe_extract_zip(data, tmp_path / "ok")) == 3  # without a predicate, nothing else changes


def test_over_long_names_and_clashing_members_are_radnomo_errors_and_leave_nothing(tmp_path):
    with pytest.raises(RadNomoError, match="longer than 255 bytes"):  # was OSError: File name too long
        safe_extract_zip(make_zip({"a" * 300 + ".nii.gz": b"x"}), tmp_path / "long")
    # A file and a folder of one name: the second cannot be written; the first is removed again.
    with pytest.raises(RadNomoError, match="clashes"):
        safe_extract_zip(make_zip({"case": b"x", "case/ct.nii.gz": b"y"}), tmp_path / "clash")
    assert not [p for p in (tmp_path / "clash").rglob("*") if p.is_file()]


def test_a_zip_that_lies_about_its_entries_or_is_damaged_is_a_radnomo_error(tmp_path):
    good = make_zip({"a.txt": b"hello" * 100})
    with pytest.raises(RadNomoError, match="not a zip"):
        safe_extract_zip(b"PK\x03\x04" + b"\0" * 100, tmp_path / "junk")
    crc = bytearray(good)
    crc[crc.index(b"PK\x01\x02") + 16] ^= 0xFF  # the central directory's checksum no longer matches
    with pytest.raises(RadNomoError, match="cannot be unpacked"):
        safe_extract_zip(bytes(crc), tmp_path / "crc")
    assert not list((tmp_path / "crc").rglob("*.txt"))


# ---------------------------------------------------------------------------------------------
# 1b. JSON documents: a byte limit before parsing, every failure a RadNomoError
# ---------------------------------------------------------------------------------------------

def test_a_1_gb_json_document_is_refused_before_reading_under_a_memory_cap(tmp_path):
    bomb = tmp_path / "study.json"
    with bomb.open("wb") as handle:  # sparse: 1 GB declared, no disk used
        handle.truncate(1 << 30)
    results = run_capped(f"""
        from core.io.limits import read_json_limited
        attempt("file", lambda: read_json_limited({str(bomb)!r}, what="study.json"))
        attempt("bytes", lambda: read_json_limited(b" " * (64 << 20) + b"{{}}", what="models JSON"))
    """, limit=1 << 30)
    from core.io.limits import MAX_JSON_BYTES

    assert_refused(results, "file", "1,073,741,824 bytes", f"at most {MAX_JSON_BYTES:,}", "RADNOMO_MAX_JSON_BYTES")
    assert_refused(results, "bytes", "models JSON", "bytes")
    assert MAX_JSON_BYTES == LIMITS["MAX_JSON_BYTES"] == 8_000_000


@pytest.mark.parametrize(("document", "fragment"), [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # was RecursionError
    (b'{"n": ' + b"7" * 5000 + b"}", "cannot be read"),  # was ValueError (integer digit limit)
    (b'{"name": "Z\xfcrich"}', "not UTF-8"),  # a latin-1 byte
    (b'{"name": "x",}', "not valid JSON"),  # was JSONDecodeError
], ids=["deep", "digits", "latin1", "malformed"])
def test_hostile_json_is_a_radnomo_error(document, fragment, tmp_path):
    from core.io.limits import read_json_limited

    with pytest.raises(RadNomoError, match=fragment):
        read_json_limited(document, what="study.json")
    (tmp_path / "doc.json").write_bytes(document)
    with pytest.raises(RadNomoError, match=fragment):
        read_json_limited(tmp_path / "doc.json", what="study.json")
    with pytest.raises(RadNomoError, match="cannot be read"):
        read_json_limited(tmp_path / "missing.json")
    assert read_json_limited(b'{"a": [1, 2.5, null]}') == {"a": [1, 2.5, None]}


def test_autoencoder_metadata_nested_deeply_is_refused(tmp_path):
    from safetensors.torch import save_file
    import torch

    from core.imaging.deep.train import read_weights_metadata

    save_file({"w": torch.zeros(1)}, str(tmp_path / "w.safetensors"), metadata={"radnomo": "[" * 100_000})
    with pytest.raises(RadNomoError, match="not RadNomo autoencoder weights"):  # was RecursionError
        read_weights_metadata(tmp_path / "w.safetensors")


# ---------------------------------------------------------------------------------------------
# 2. The feature store: damaged files, foreign tables, hostile rows, paths that are not files
# ---------------------------------------------------------------------------------------------

def _store_with_a_row(path: Path) -> None:
    from core.imaging.extraction.store import FeatureStore

    with FeatureStore(path) as store:
        store.put("k", case_id="A", image_sha256="i", mask_sha256="m", settings_sha256="s", extractor_version="v",
                  seconds=1.0, features={"f1": 1.0, "f2": 2.0, "f3": 3.0})


def _edit_row(path: Path, names: str, values: str) -> None:
    connection = sqlite3.connect(path)
    connection.execute("UPDATE features SET names_json = ?, values_json = ?", (names, values))
    connection.commit()
    connection.close()


@pytest.mark.parametrize(("names", "values", "fragment"), [
    ('["f1", "f2"]', "[1.0, 2.0, 3.0]", "2 feature names but 3 values"),  # features were silently dropped
    ("[" * 100_000, "[1.0]", "nested too deeply"),  # was RecursionError
    ('["f1", ', "[1.0]", "not valid JSON"),  # was JSONDecodeError
    ('["f1"]', "[" + "9" * 5000 + "]", "cannot be read"),  # was ValueError
    ('{"f1": 1}', "[1.0]", "list of feature names"),
    ('["f1", "f1"]', "[1.0, 2.0]", "names a feature twice"),
    ('["f1"]', '["text"]', "list of numbers"),
], ids=["fewer-names", "nested", "malformed", "digits", "not-a-list", "duplicate", "text-value"])
def test_a_hostile_store_row_is_refused_naming_the_store(names, values, fragment, tmp_path):
    from core.imaging.extraction.store import FeatureStore

    path = tmp_path / "features.store.sqlite"
    _store_with_a_row(path)
    _edit_row(path, names, values)
    with FeatureStore(path) as store, pytest.raises(RadNomoError) as refused:
        store.get_many(["k"])
    message = str(refused.value)
    assert fragment in message and str(path) in message and "delete" in message


def test_damaged_and_foreign_stores_are_refused_naming_the_file(tmp_path):
    from core.imaging.extraction.store import FeatureStore

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 1000)
    foreign = tmp_path / "foreign.sqlite"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE features (a, b, c)")  # was OperationalError on the first write
    connection.commit()
    connection.close()
    truncated = tmp_path / "truncated.sqlite"
    with FeatureStore(truncated) as store:
        for i in range(200):
            store.put(f"k{i}", case_id=str(i), image_sha256="i", mask_sha256="m", settings_sha256="s",
                      extractor_version="v", seconds=1.0, features={f"f{j}": float(j) for j in range(200)})
    truncated.write_bytes(truncated.read_bytes()[:truncated.stat().st_size // 3])
    for path, fragment in ((junk, "not a readable SQLite database"), (foreign, "not a RadNomo feature store"),
                           (truncated, "not a readable SQLite database")):
        with pytest.raises(RadNomoError) as refused:
            with FeatureStore(path) as store:
                store.get_many([f"k{i}" for i in range(200)])
        message = str(refused.value)
        assert str(path) in message and fragment in message and "delete" in message, message


@pytest.mark.parametrize("kind", ["device", "folder", "under-a-file", "long-name"])
def test_a_store_path_that_is_not_a_file_is_refused(kind, tmp_path):
    from core.imaging.extraction.store import FeatureStore

    path = {"device": Path("/dev/null"), "folder": tmp_path, "under-a-file": Path("/dev/null/store.sqlite"),
            "long-name": tmp_path / ("s" * 300) / "store.sqlite"}[kind]
    fragment = {"device": "is a character device, not a file", "folder": "is a folder, not a file",
                "under-a-file": "Not a directory", "long-name": "File name too long"}[kind]
    with pytest.raises(RadNomoError, match=fragment):
        FeatureStore(path)  # SQLite never opens it (as root, it used to create /dev/null-journal)


def test_extract_store_dev_null_exits_2_with_a_message(tmp_path, capsys):
    from core.cli.extract import main

    # One case whose files do not exist: a regression fails in a second instead of extracting a cohort.
    (tmp_path / "m.csv").write_text("ID,Image,Mask\nA,ct.nii.gz,mask.nii.gz\n")
    code = main([str(tmp_path / "m.csv"), "--out", str(tmp_path / "f.parquet"), "--store", "/dev/null"])
    assert code == 2
    assert "'/dev/null' is a character device, not a file" in capsys.readouterr().err
    assert not (tmp_path / "f.parquet").exists()


# ---------------------------------------------------------------------------------------------
# 3. Numeric bounds on the command lines (argparse exits with code 2 before any work)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("module", "argv", "fragment"), [
    ("extract", ["m.csv", "--out", "f.parquet", "--workers", "100000"], "--workers = 100000 is out of range"),
    ("extract", ["m.csv", "--out", "f.parquet", "--workers", "0"], "out of range"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--crop", "1000000"], "--crop = 1000000 is out of range"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--crop", "1e6"], "out of range"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--crop", "40"], "multiple of 16"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--seed", "-1"], "--seed = -1 is out of range"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--epochs", "10000000"], "out of range"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--lr", "nan"], "finite number"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--test-size", "inf"], "finite number"),
    ("deep", ["m.csv", "--cohort", "c.csv", "--out-dir", "d", "--workers", "100000"], "out of range"),
    ("validation", ["--out", "v", "--n-boot", "1000000000"], "--n-boot = 1000000000 is out of range"),
    ("validation", ["--out", "v", "--repeats", "100000"], "out of range"),
    ("validation", ["--out", "v", "--folds", "1"], "out of range"),
    ("validation", ["--out", "v", "--seed", "-1"], "out of range"),
    ("synthetic", ["--out", "s", "--n", "10000000000"], "out of range"),
    ("synthetic", ["--out", "s", "--seed", "-1"], "out of range"),
    ("synthetic", ["--out", "s", "--workers", "100000"], "out of range"),
], ids=lambda value: "-".join(value[-2:]) if isinstance(value, list) else "" if " " in value else value)
def test_out_of_range_numbers_exit_2_before_any_work(module, argv, fragment, capsys, monkeypatch):
    import importlib

    command = importlib.import_module(f"core.cli.{module}")

    def work(*args, **kwargs):  # a regression fails here instead of running a billion resamples
        raise AssertionError(f"{module} started its work with {argv}")

    for name in ("sample_study", "generate_clinical", "generate_cohort"):
        if hasattr(command, name):
            monkeypatch.setattr(command, name, work)
    main = command.main
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert fragment in capsys.readouterr().err


def test_nan_shares_are_refused_by_the_synthetic_command(tmp_path, capsys):
    from core.cli.synthetic import main

    assert main(["--n", "60", "--out", str(tmp_path), "--no-images", "--scanner-mix", "A=nan,B=1"]) == 2
    assert "share of A = 'nan' must be a finite number" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_worker_counts_are_bounded_before_any_process_starts(tmp_path):
    from core.imaging.extraction.batch import ExtractionSettings, run_batch
    from core.imaging.extraction.radiomics import load_params
    from core.io.processes import MAX_WORKERS, worker_pool

    assert MAX_WORKERS == LIMITS["MAX_WORKERS"] == max(4, 4 * (os.cpu_count() or 1))
    with pytest.raises(RadNomoError, match="workers = 100000 is out of range"):
        worker_pool(100_000)
    manifest = pd.DataFrame({"ID": ["A"], "Image": [str(tmp_path / "ct.nii.gz")], "Mask": [str(tmp_path / "m.nii.gz")]})
    with pytest.raises(RadNomoError, match="workers = 100000 is out of range"):
        run_batch(manifest, ExtractionSettings(params=load_params("original")), workers=100_000)


# ---------------------------------------------------------------------------------------------
# 4. A killed autoencoder run leaves the previous complete set or the new one
# ---------------------------------------------------------------------------------------------

def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _folder_hashes(folder: Path) -> dict[str, str]:
    return {p.name: _sha(p) for p in sorted(folder.iterdir())}


def _deep_command(manifest: Path, out: Path, seed: int) -> list[str]:
    from core.workflows.sample import SAMPLE_DIR

    return [sys.executable, "-m", "core.cli.deep", str(manifest), "--cohort", str(SAMPLE_DIR / "clinical.csv"),
            "--out-dir", str(out), "--epochs", "2", "--crop", "32", "--latent", "8", "--seed", str(seed)]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile (a killed run's staging folder, cleaned up by the next run)
        return 0.0


def _run_killed(command: list[str], root: Path, trigger: str, started_after: float) -> str:
    """Run ``command`` and kill it by PID (SIGKILL) when a file matching ``trigger`` appears anywhere under
    ``root`` (written after ``started_after``); returns what happened."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and process.poll() is None:
            fresh = [p for p in root.rglob(trigger) if _mtime(p) >= started_after]
            if fresh:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=30)
                return f"killed on {fresh[0].name}"
            time.sleep(0.005)
        return f"finished with {process.returncode}"
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.mark.slow
def test_a_killed_autoencoder_run_never_leaves_new_weights_beside_old_features(tmp_path):
    from core.imaging.extraction.batch import read_manifest
    from core.workflows.sample import SAMPLE_MANIFEST

    # The names the command documents (literals, so the test reads the same against any version).
    weights, log, features, record = ("ae_weights.safetensors", "ae_training_log.csv", "features_deep.parquet",
                                      "deep_run.json")

    manifest = read_manifest(SAMPLE_MANIFEST)
    manifest = manifest[manifest["Image"].map(lambda p: Path(p).is_file())].head(12)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    runs = tmp_path / "runs"
    runs.mkdir()
    out = runs / "deep"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    first = subprocess.run(_deep_command(tmp_path / "manifest.csv", out, 2025), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    previous = _folder_hashes(out)
    assert {weights, log, features} <= set(previous)

    def complete_new_set() -> bool:
        """A new run's whole set: the record's hashes are those of the files beside it, the weights new."""
        now = _folder_hashes(out)
        if record not in now:
            return False
        recorded = json.loads((out / record).read_text())["sha256"]
        return set(now) == set(previous) and recorded == {k: v for k, v in now.items() if k != record} \
            and now[weights] != previous[weights]

    outcomes = []
    # Kill points: the new weights written (the finding: 2 of 10 kills left them beside the old features), the
    # weights being written, the training log written, the features written (the set about to be put in place).
    # Each run its own seed: a run that was not killed in time finishes a whole set, and the next run with the
    # same seed would write the very same weights (training is deterministic), which reads as no new set.
    for seed, trigger in enumerate(("ae_weights.safetensors", "*ae_weights.safetensors.*", "ae_training_log.csv",
                                    "features_deep.parquet"), start=7):
        started = time.time() - 0.01
        outcome = _run_killed(_deep_command(tmp_path / "manifest.csv", out, seed), runs, trigger, started)
        outcomes.append(outcome)
        assert out.is_dir(), outcome
        now = _folder_hashes(out)
        assert now == previous or complete_new_set(), (outcome, now, previous)
        previous = _folder_hashes(out)
    print(outcomes)
    assert outcomes[0].startswith("killed"), outcomes  # the finding's moment was reached (the others may finish)
    # The next run finishes and removes what the killed runs left beside the folder.
    last = subprocess.run(_deep_command(tmp_path / "manifest.csv", out, 11), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert last.returncode == 0, last.stderr[-3000:]
    assert complete_new_set()
    assert sorted(p.name for p in runs.iterdir()) == ["deep"]


def test_an_output_folder_holding_other_files_is_refused_before_training(tmp_path):
    from core.io.paths import staged_folder

    out = tmp_path / "results"
    out.mkdir()
    (out / "my_notes.txt").write_text("keep me")
    with pytest.raises(RadNomoError, match="my_notes.txt"):
        with staged_folder(out, replaceable=("features_deep.parquet",)):
            raise AssertionError("the block must not run")
    assert (out / "my_notes.txt").read_text() == "keep me"
    with pytest.raises(RuntimeError):  # a failing run leaves the folder as it was and no staging behind
        with staged_folder(out, replaceable=("my_notes.txt",)) as staging:
            (staging / "my_notes.txt").write_text("half")
            raise RuntimeError("stopped")
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_set_moved_aside_by_a_killed_fallback_swap_is_put_back(tmp_path, monkeypatch):
    import core.io.paths as paths

    out = tmp_path / "deep"
    with paths.staged_folder(out) as staging:
        (staging / "features_deep.parquet").write_text("old")
    # Where renameat2's exchange is missing, the swap takes two renames; a kill between them leaves the
    # previous set beside the folder, and the next run puts it back before anything else.
    out.rename(tmp_path / ".deep.old-999999-dead")
    (tmp_path / ".deep.partial-999999-dead").mkdir()  # the killed run's staging folder
    monkeypatch.setattr(paths, "_exchange", lambda first, second: False)
    with paths.staged_folder(out, replaceable=("features_deep.parquet",)) as staging:
        assert (out / "features_deep.parquet").read_text() == "old"
        (staging / "features_deep.parquet").write_text("new")
    assert (out / "features_deep.parquet").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep"]


def test_the_swap_is_one_exchange_where_the_system_has_it(tmp_path):
    from core.io.paths import _exchange

    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a").write_text("1")
    (second / "b").write_text("2")
    if not _exchange(first, second):
        pytest.skip("this file system has no renameat2(RENAME_EXCHANGE); the two-rename fallback is used")
    assert [p.name for p in first.iterdir()] == ["b"] and [p.name for p in second.iterdir()] == ["a"]
