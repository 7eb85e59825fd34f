"""Issue 24, "trust-study": a saved or imported study is an upload, and is read as one.

1. JSON read only under a byte limit, before parsing: a 1 GB ``study.json`` inside a small study zip
   (a memory cap on the child that imports it), an oversized models JSON.
2. Saved models re-validated on loading: non-finite coefficients, SDs, shapes that do not match, families
   the study lacks, and edited ("flipped") coefficients that no longer reproduce the predictions saved
   with them; a study saved before those predictions were kept still loads.
3. No foreign exception from study import or loading: deep nesting (RecursionError), a 5,000-digit number
   (ValueError), 1e999 where a whole number belongs (OverflowError), parts of the wrong type, names of
   5,000 characters (OSError), a duplicated ``study.json``, 20,000 junk members.
4. Screening settings finite and in range (a seed of -1, a NaN variance threshold, ...).
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import shutil
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from core.errors import RadNomoError
from core.workflows.persistence import (STUDY_FILE, import_study, list_studies, load_study, load_study_models,
                                        save_study)
from tests.archives import make_zip
from tests.core.test_input_safety import assert_refused, run_capped

# ---------------------------------------------------------------------------------------------
# Building saved studies, edited ones and hostile archives
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory, sample_study):
    """The sample study saved with its stored fit (a folder); tests copy it before editing."""
    from core.workflows.sample import load_sample_fit

    models = load_sample_fit(sample_study)
    assert models is not None
    return save_study(sample_study, tmp_path_factory.mktemp("saved") / "study", models)


def copy_study(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "study"))


def edit_models(folder: Path, change: Callable[[dict], None]) -> None:
    """Apply ``change`` to the saved models JSON of ``folder`` and record its new SHA-256 (as an editor would,
    so the file check passes and the models themselves are what is judged)."""
    description = json.loads((folder / STUDY_FILE).read_text())
    path = folder / description["models"]
    values = json.loads(path.read_text())
    change(values)
    path.write_text(json.dumps(values))
    description["files"][path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    (folder / STUDY_FILE).write_text(json.dumps(description))


def study_zip(folder: Path, *, study_json: bytes | None = None, extra: dict[str, bytes] | None = None) -> bytes:
    """A study archive of ``folder`` with its ``study.json`` replaced by ``study_json`` (raw bytes)."""
    description = json.loads((folder / STUDY_FILE).read_text())
    members = {STUDY_FILE: study_json if study_json is not None else (folder / STUDY_FILE).read_bytes()}
    members.update({name: (folder / name).read_bytes() for name in description["files"]})
    return make_zip({**members, **(extra or {})})


def json_bomb_zip(path: Path, size: int) -> None:
    """A zip holding one ``study.json`` of ``size`` bytes (valid JSON), compressed about 76:1 (under the
    zip-bomb ratio check): 1 GB fits in about 14 MB. The deflate stream is one compressed 1 MiB block
    repeated (each ends in a full flush, so it compresses the same each time); the CRC is the true one."""
    prefix, suffix = b'{"format": "radnomo-study", "version": 2, "pad": "', b'"}'
    rng, gap = random.Random(0), 1000  # random hex tokens between runs of spaces: about 76:1
    chunk = b"".join(b"%016x" % rng.getrandbits(64) + b" " * gap for _ in range((1 << 20) // (16 + gap)))
    repeats = (size - len(prefix) - len(suffix)) // len(chunk)
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    head = compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH) == block  # repeatable
    tail = compressor.compress(suffix) + compressor.flush()
    crc = zlib.crc32(prefix)
    for _ in range(repeats):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(suffix, crc)
    usize = len(prefix) + repeats * len(chunk) + len(suffix)
    csize = len(head) + repeats * len(block) + len(tail)
    name = STUDY_FILE.encode()
    with path.open("wb") as out:
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, csize, usize, len(name), 0))
        out.write(name + head)
        for _ in range(repeats):
            out.write(block)
        out.write(tail)
        directory = out.tell()
        out.write(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, csize, usize, len(name),
                              0, 0, 0, 0, 0o644 << 16, 0) + name)
        size_of_directory = out.tell() - directory
        out.write(struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, 1, 1, size_of_directory, directory, 0))


# ---------------------------------------------------------------------------------------------
# 1. JSON byte limits before parsing
# ---------------------------------------------------------------------------------------------


def test_a_1gb_study_json_in_a_small_zip_is_refused_before_parsing_under_a_memory_cap(tmp_path):
    """Was: the member passed the ratio check and json.loads of 1 GB exhausted memory."""
    archive = tmp_path / "bomb.zip"
    json_bomb_zip(archive, 1 << 30)
    assert archive.stat().st_size < 90 << 20
    with zipfile.ZipFile(archive) as check:  # an honest archive: 1 GB declared, a ratio the bomb check allows
        member = check.getinfo(STUDY_FILE)
        assert member.file_size >= 10**9 and member.file_size / member.compress_size < 200
    dest = tmp_path / "studies"
    results = run_capped(f"""
        from core.workflows.persistence import import_study
        attempt("bomb", lambda: import_study({str(archive)!r}, {str(dest)!r}))
    """, timeout=120)
    assert_refused(results, "bomb", "study.json", "RADNOMO_MAX_JSON_BYTES", "nothing was unpacked")
    assert not any(dest.iterdir())  # nothing unpacked, no staging folder left


def test_an_oversized_study_json_or_models_json_in_a_folder_is_refused_before_parsing(saved, tmp_path, monkeypatch,
                                                                                    sample_study):
    import core.io.limits

    folder = copy_study(saved, tmp_path)
    description = json.loads((folder / STUDY_FILE).read_text())
    study_bytes = (folder / STUDY_FILE).stat().st_size
    models_bytes = (folder / description["models"]).stat().st_size
    assert models_bytes > study_bytes
    monkeypatch.setattr(core.io.limits, "MAX_JSON_BYTES", study_bytes)  # study.json fits, the models do not
    with pytest.raises(RadNomoError, match=f"saved models.*{models_bytes:,} bytes; at most {study_bytes:,}"):
        load_study_models(folder, sample_study)
    monkeypatch.setattr(core.io.limits, "MAX_JSON_BYTES", study_bytes - 1)
    with pytest.raises(RadNomoError, match=f"study.json.*{study_bytes:,} bytes"):
        load_study(folder)


# ---------------------------------------------------------------------------------------------
# 2. Saved models re-validated
# ---------------------------------------------------------------------------------------------


def _scores(values: dict) -> dict:
    """The saved score models by family (the saved models are named models with roles)."""
    return {name: entry["model"] for name, entry in values["models"].items() if entry["role"] == "score"}


def _model(values: dict, name: str) -> dict:
    return values["models"][name]["model"]


def _first_feature(values: dict) -> tuple[str, str]:
    score = next(iter(_scores(values)))
    return score, _scores(values)[score]["features"][0]


def _nan_score_coefficient(values: dict) -> None:
    score, feature = _first_feature(values)
    _scores(values)[score]["coefs"][feature] = float("nan")


def _infinite_clinical_intercept(values: dict) -> None:
    _model(values, "clinical")["fit"]["params"]["const"] = float("inf")


def _zero_training_sd(values: dict) -> None:
    score, feature = _first_feature(values)
    _scores(values)[score]["sds"][feature] = 0.0


def _coefficient_for_no_term(values: dict) -> None:
    _model(values, "clinical")["fit"]["params"]["not_a_variable"] = 0.5


def _score_of_an_absent_family(values: dict) -> None:
    score = next(iter(_scores(values)))
    values["members"][score] = ["no_such_family"]


def _fitted_on_other_patients(values: dict) -> None:
    values["train_ids"] = values["train_ids"][1:]


def _nan_fill_value(values: dict) -> None:
    imputer = next(iter(values["imputers"].values()))
    imputer["fill"][next(iter(imputer["fill"]))] = float("nan")


@pytest.mark.parametrize(("change", "message"), [
    (_nan_score_coefficient, "not finite"),
    (_infinite_clinical_intercept, "not finite"),
    (_zero_training_sd, "must be above 0"),
    (_coefficient_for_no_term, "do not match"),
    (_score_of_an_absent_family, "does not have"),
    (_fitted_on_other_patients, "other training patients"),
    (_nan_fill_value, "not a finite number"),
], ids=lambda v: getattr(v, "__name__", "")[1:] if callable(v) else "")
def test_unsound_saved_models_are_refused_with_a_reason(saved, tmp_path, sample_study, change, message):
    """Was: NaN coefficients gave NaN predictions for every patient, accepted."""
    folder = copy_study(saved, tmp_path)
    edit_models(folder, change)
    with pytest.raises(RadNomoError, match=f"saved models of 'study' are refused: .*{message}"):
        load_study_models(folder, sample_study)


def _flip(fit: dict) -> None:
    fit["params"] = {term: -value for term, value in fit["params"].items()}


def _flipped_clinical(values: dict) -> None:
    _flip(_model(values, "clinical")["fit"])


def _flipped_score(values: dict) -> None:  # coefficients and their refit flipped together, so they agree
    score = _scores(values)[next(iter(_scores(values)))]
    score["intercept"] = -score["intercept"]
    score["coefs"] = {feature: -value for feature, value in score["coefs"].items()}
    _flip(score["fit"])


@pytest.mark.parametrize("change", [_flipped_clinical, _flipped_score], ids=["clinical", "score"])
def test_flipped_coefficients_no_longer_reproduce_the_saved_predictions(saved, tmp_path, sample_study, change):
    """Was: flipped coefficients gave scores of +-318, accepted. Finite and well-formed, they are caught by the
    predictions saved with the models for the first training patients."""
    folder = copy_study(saved, tmp_path)
    edit_models(folder, change)
    with pytest.raises(RadNomoError, match="no longer reproduce their own .* predictions.*refit the models"):
        load_study_models(folder, sample_study)


def test_untouched_models_and_models_saved_before_checks_still_load(saved, tmp_path, sample_study):
    from core.workflows.fit import predict_study

    folder = copy_study(saved, tmp_path)
    models = load_study_models(folder, sample_study)
    assert models is not None
    check = json.loads((folder / json.loads((folder / STUDY_FILE).read_text())["models"]).read_text())["check"]
    assert len(check["ids"]) == 20 and set(check["predictions"]) >= set(models.model_names)
    edit_models(folder, lambda values: values.pop("check"))  # as saved before the check was kept
    older = load_study_models(folder, sample_study)
    assert predict_study(sample_study, older).equals(predict_study(sample_study, models))
    edit_models(folder, _nan_score_coefficient)  # the other checks still apply to them
    with pytest.raises(RadNomoError, match="not finite"):
        load_study_models(folder, sample_study)


# ---------------------------------------------------------------------------------------------
# 3. No foreign exception from import or loading
# ---------------------------------------------------------------------------------------------


def _description(saved: Path) -> dict:
    return json.loads((saved / STUDY_FILE).read_text())


def _with(saved: Path, change: Callable[[dict], None]) -> bytes:
    description = copy.deepcopy(_description(saved))
    change(description)
    return json.dumps(description).encode()


def _deeply_nested(saved: Path) -> bytes:
    text = json.dumps(_description(saved))
    return (text[:-1] + ', "labels_extra": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()


def _long_number(saved: Path) -> bytes:
    text = json.dumps(_description(saved))
    return text.replace('"seed": ', '"seed": ' + "7" * 5_000 + ", \"was\": ", 1).encode()


@pytest.mark.parametrize(("study_json", "message"), [
    (_deeply_nested, "nested too deeply"),
    (_long_number, "cannot be read"),
    (lambda s: _with(s, lambda d: d["split"].update(seed=float("inf"))), "malformed"),  # int(inf): OverflowError
    (lambda s: _with(s, lambda d: d.update(families={"radiomics": 1})), "malformed"),
    (lambda s: _with(s, lambda d: d.update(split="all of them")), "malformed"),
    (lambda s: _with(s, lambda d: d.update(spec=[1, 2, 3])), "cohort specification must be a mapping; got list"),
    (lambda s: _with(s, lambda d: d.update(exclusions=5)), "malformed"),
    (lambda s: _with(s, lambda d: d.update(files=["a", "b"])), "does not list its files"),
    (lambda s: _with(s, lambda d: d["settings"]["screening"].update(seed=-1)), "fold seed -1"),
    (lambda s: _with(s, lambda d: d["settings"].update(harmonise_by=["scanner"])), "must be a column"),
], ids=["deep-nesting", "5000-digit-number", "overflow", "families-of-ints", "split-text", "spec-list",
        "exclusions-number", "files-list", "seed-minus-one", "harmonise-by-list"])
@pytest.mark.slow
def test_malformed_study_json_in_an_import_is_a_radnomo_error(saved, tmp_path, study_json, message):
    """Was: RecursionError, ValueError (Python's digit limit), OverflowError and TypeError escaped."""
    archive = tmp_path / "study.zip"
    archive.write_bytes(study_zip(saved, study_json=study_json(saved)))
    dest = tmp_path / "studies"
    with pytest.raises(RadNomoError, match=message):
        import_study(archive, dest)
    assert not any(dest.iterdir())


def test_a_duplicated_study_json_is_refused_end_to_end(saved, tmp_path):
    """Was: two study.json entries were accepted, the last one winning."""
    archive = tmp_path / "study.zip"
    archive.write_bytes(study_zip(saved))
    with zipfile.ZipFile(archive, "a") as again, pytest.warns(UserWarning, match="Duplicate name"):
        again.writestr(STUDY_FILE, _with(saved, lambda d: d.update(name="Impostor")))
    dest = tmp_path / "studies"
    with pytest.raises(RadNomoError, match="holds 'study.json' twice"):
        import_study(archive, dest)
    assert not any(dest.iterdir())


def test_names_of_5000_characters_are_radnomo_errors(saved, tmp_path):
    """Was: OSError (file name too long) from a member's name or a folder's."""
    archive = tmp_path / "study.zip"
    archive.write_bytes(study_zip(saved, extra={"x" * 5_000 + ".parquet": b"PAR1"}))
    with pytest.raises(RadNomoError):
        import_study(archive, tmp_path / "studies")
    long = tmp_path / ("s" * 5_000)
    with pytest.raises(RadNomoError, match="cannot be read"):
        load_study(long)
    with pytest.raises(RadNomoError, match="cannot be read"):
        list_studies(long)
    with pytest.raises(RadNomoError, match="cannot be read"):
        import_study(long, tmp_path / "studies")


@pytest.mark.slow
def test_a_study_named_with_5000_characters_imports_into_a_short_folder(saved, tmp_path):
    archive = tmp_path / "study.zip"
    archive.write_bytes(study_zip(saved, study_json=_with(saved, lambda d: d.update(name="N" * 5_000))))
    folder = import_study(archive, tmp_path / "studies")
    assert len(folder.name) <= 60 and load_study(folder).name == "N" * 5_000


def test_20000_junk_members_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    """Was: a study zip of 150,000 junk members was unpacked to disk before being refused (34 s)."""
    written = []
    original = Path.open

    def spying_open(self, mode="r", *args, **kwargs):
        if "w" in mode and ".import-" in str(self):
            written.append(self)
        return original(self, mode, *args, **kwargs)

    members = {STUDY_FILE: b"{}", **{f"features_junk-{i:016x}.parquet": b"" for i in range(20_000)}}
    archive = tmp_path / "junk.zip"
    archive.write_bytes(make_zip(members, compression=zipfile.ZIP_STORED))
    monkeypatch.setattr(Path, "open", spying_open)
    with pytest.raises(RadNomoError, match="20,001 entries; at most 10,000"):
        import_study(archive, tmp_path / "studies")
    assert not written  # refused before anything was unpacked


# ---------------------------------------------------------------------------------------------
# 4. Settings finite and in range
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("seed", -1, "fold seed -1 is not valid: it must be a whole number from 0"),
    ("seed", 2**32, "fold seed"),
    ("seed", 1.5, "fold seed"),
    ("variance_threshold", float("nan"), "variance threshold nan"),
    ("variance_threshold", float("inf"), "variance threshold inf"),
    ("variance_threshold", -0.1, "variance threshold"),
    ("correlation_threshold", 0.0, "redundancy threshold"),
    ("correlation_threshold", 1.2, "redundancy threshold"),
    ("correlation_threshold", float("nan"), "redundancy threshold"),
    ("p_threshold", float("nan"), "p-value threshold"),
    ("auc_threshold", float("inf"), "AUC threshold"),
    ("icc_threshold", float("nan"), "ICC threshold"),
    ("n_folds", 2, "from 3 to 20"),
    ("n_folds", 21, "from 3 to 20"),
    ("n_folds", True, "folds"),
    ("mrmr_features", 0, "mRMR"),
    ("mrmr_features", 10**9, "mRMR"),
])
def test_screening_settings_are_finite_and_in_range(setting, value, message):
    """Was: a seed of -1 reached scikit-learn (its own ValueError), a NaN variance threshold kept every feature."""
    from core.stats.selection import ScreeningSettings

    with pytest.raises(RadNomoError, match=message):
        ScreeningSettings(**{setting: value})
    with pytest.raises(RadNomoError, match=message):  # a saved study's settings go through the same checks
        ScreeningSettings.from_dict({**ScreeningSettings().to_dict(), setting: value})


def test_every_bound_of_the_screening_settings_is_accepted():
    from core.stats.selection import MAX_MRMR_FEATURES, MAX_SEED, ScreeningSettings

    ScreeningSettings(seed=0, n_folds=3, mrmr_features=1, variance_threshold=0.0, correlation_threshold=1.0,
                      p_threshold=1.0, auc_threshold=0.5, icc_threshold=0.5)
    ScreeningSettings(seed=MAX_SEED, n_folds=20, mrmr_features=MAX_MRMR_FEATURES, variance_threshold=1e12,
                      p_threshold=1e-30)


@pytest.mark.parametrize(("values", "message"), [
    ({"clinical_p": float("nan")}, "clinical p threshold nan"),
    ({"clinical_p": True}, "clinical p threshold"),
    ({"harmonise_by": ["scanner"]}, "harmonisation column"),
    ({"fused_score": 3}, "fused model's score"),
])
def test_model_settings_are_finite_in_range_and_of_their_type(values, message):
    from core.workflows.study import EvaluationSettings, ModelSettings

    with pytest.raises(RadNomoError, match=message):
        ModelSettings(**values)
    with pytest.raises(RadNomoError, match="target sensitivity"):
        EvaluationSettings(cutoff_rule="sensitivity", cutoff_value=float("inf"))
