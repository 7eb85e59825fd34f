"""Workspaces and shared studies (issue 24, trust-ui): space names and owners, stale spaces removed, per-folder locks,
shared studies that keep their owner, and saves into one folder from concurrent processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from datetime import datetime, UTC

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.io.spaces import (SPACES_FOLDER, folder_lock, is_space_token, new_space_token, remove_stale_spaces,
                            space_folder_name, space_owner)
from core.stats.cohort import CohortSpec, SplitConfig
from core.workflows.persistence import load_study
from core.workflows.sharing import share_record, share_study, shared_studies
from core.workflows.study import make_study

SPEC = CohortSpec(id_column="pid", outcome_column="event", continuous=("age",))


def _study(name: str, seed: int = 0, n: int = 60):
    rng = np.random.default_rng(seed)
    table = pd.DataFrame({"pid": [f"P{i:03d}" for i in range(n)], "event": np.tile([0, 1], n // 2),
                          "age": rng.normal(60, 8, n).round(1)})
    return make_study(name, table, SPEC, SplitConfig(test_size=0.3, seed=seed))


# ---------------------------------------------------------------------------------------------------------------
# Spaces
# ---------------------------------------------------------------------------------------------------------------


def test_space_names_and_owner_ids_never_reveal_the_token():
    token = new_space_token()
    assert is_space_token(token) and token != new_space_token()
    name = space_folder_name(token=token)
    owner = space_owner(name)
    assert name == f"session-{token}" and len(owner) == 12 and owner not in token and token[:12] != owner
    assert space_folder_name(user="alice@example.org").startswith("user-")
    assert "alice" not in space_folder_name(user="alice@example.org")
    for bad in ("", "../../etc", token.upper(), token + "0", None, 5):
        assert not is_space_token(bad)
    with pytest.raises(RadNomoError, match="space token"):
        space_folder_name(token="../shared")


def test_spaces_unused_for_longer_than_the_limit_are_removed_and_logged(tmp_path, caplog):
    root = tmp_path / SPACES_FOLDER
    old, fresh = new_space_token(), new_space_token()
    old_user = space_folder_name(user="bob")
    for name in (f"session-{old}", f"session-{fresh}", old_user, "not-a-space"):
        (root / name / "studies").mkdir(parents=True)
        (root / name / "studies" / "x.txt").write_text("kept?")
    now = time.time()
    for name in (f"session-{old}", old_user, "not-a-space"):
        os.utime(root / name, (now - 31 * 86400, now - 31 * 86400))
    os.utime(root / f"session-{fresh}", (now - 29 * 86400, now - 29 * 86400))
    with caplog.at_level(logging.INFO, logger="core.io.spaces"):
        removed = remove_stale_spaces(tmp_path, max_age_days=30, now=now)
    assert sorted(p.name for p in removed) == sorted([f"session-{old}", old_user])
    assert sorted(p.name for p in root.iterdir()) == sorted([f"session-{fresh}", "not-a-space"])
    assert caplog.text.count("removed space") == 2
    assert old not in caplog.text  # the log names a space by its public ID, never by its token
    assert space_owner(f"session-{old}") in caplog.text


def test_the_space_age_limit_comes_from_the_environment(monkeypatch):
    import importlib

    import core.io.spaces as spaces

    monkeypatch.setenv("RADNOMO_SPACE_MAX_AGE_DAYS", "7")
    try:
        assert importlib.reload(spaces).SPACE_MAX_AGE_DAYS == 7
        monkeypatch.setenv("RADNOMO_SPACE_MAX_AGE_DAYS", "-1")
        with pytest.raises(RadNomoError, match="RADNOMO_SPACE_MAX_AGE_DAYS"):
            importlib.reload(spaces)
    finally:
        monkeypatch.delenv("RADNOMO_SPACE_MAX_AGE_DAYS")
        importlib.reload(spaces)


def _hold_lock(folder, ready, release):
    with folder_lock(folder):
        ready.set()
        release.wait(20)


def test_a_folder_lock_excludes_other_processes_and_gives_up_with_a_message(tmp_path):
    folder = tmp_path / "study"
    context = multiprocessing.get_context("fork")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(folder, ready, release))
    holder.start()
    try:
        assert ready.wait(20)
        with pytest.raises(RadNomoError, match="being saved by someone else"):
            with folder_lock(folder, timeout_s=0.3):
                pass
        with pytest.raises(RadNomoError, match="being saved"):  # readers wait for the writer too
            with folder_lock(folder, shared=True, timeout_s=0.3):
                pass
    finally:
        release.set()
        holder.join(20)
    with folder_lock(folder, timeout_s=5):  # free again once the holder is done
        pass
    assert not folder.exists()  # the lock lives beside the folder, never inside it


# ---------------------------------------------------------------------------------------------------------------
# Shared studies keep their owner
# ---------------------------------------------------------------------------------------------------------------


def test_sharing_never_replaces_another_owners_study(tmp_path):
    root = tmp_path / "shared"
    alice, bob = space_owner(space_folder_name(token=new_space_token())), space_owner(space_folder_name(user="bob"))
    when = datetime(2026, 12, 6, 5, 30, tzinfo=UTC)
    folder, record = share_study(_study("Liver study", seed=1), root, owner=alice, owner_label=f"anonymous {alice}",
                                 now=when)
    assert record.owner == alice and record.shared_at == "2026-12-06T05:30:00Z" and record.name == "Liver study"
    before = load_study(folder)
    with pytest.raises(RadNomoError, match=rf"already shared by anonymous {alice} on 2026-12-06 05:30:00 UTC"):
        share_study(_study("Liver study", seed=2), root, owner=bob, owner_label="Bob")
    after = load_study(folder)
    assert after.cohort.equals(before.cohort) and share_record(folder) == record  # Alice's study is untouched
    # The owner may replace their own; the record says when.
    share_study(_study("Liver study", seed=3), root, owner=alice, owner_label=f"anonymous {alice}")
    assert not load_study(folder).cohort.equals(before.cohort)
    assert share_record(folder).owner == alice and share_record(folder).shared_at != record.shared_at
    listed = shared_studies(root)
    assert listed[["name", "owner", "owner_label"]].values.tolist() == [["Liver study", alice, f"anonymous {alice}"]]


def test_a_study_shared_before_owners_were_kept_is_not_replaced(tmp_path):
    from core.workflows.persistence import save_study

    root = tmp_path / "shared"
    save_study(_study("Old study"), root / "old-study")
    with pytest.raises(RadNomoError, match="before owners were recorded"):
        share_study(_study("Old study", seed=5), root, owner="abc", owner_label="anonymous abc")
    assert shared_studies(root)["owner_label"].tolist() == ["unknown (shared before owners were recorded)"]
    assert not (root / "old-study.owner.json").exists()


def _share_as(root, owner, seed, results):
    try:
        share_study(_study("Same name", seed=seed), root, owner=owner, owner_label=owner)
        results.put((owner, "shared"))
    except RadNomoError as error:
        results.put((owner, str(error)))
    except Exception as error:  # noqa: BLE001 - reported to the test, which fails on it
        results.put((owner, f"foreign {type(error).__name__}: {error}"))


def test_two_users_sharing_one_name_at_the_same_moment_one_wins_cleanly(tmp_path):
    root = tmp_path / "shared"
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    owners = [f"owner{i}" for i in range(4)]
    processes = [context.Process(target=_share_as, args=(root, owner, i, results)) for i, owner in enumerate(owners)]
    for process in processes:
        process.start()
    outcomes = dict(results.get(timeout=120) for _ in processes)
    for process in processes:
        process.join(30)
    winners = [owner for owner, outcome in outcomes.items() if outcome == "shared"]
    assert len(winners) == 1, outcomes
    assert all("already shared by" in outcome for owner, outcome in outcomes.items() if owner != winners[0]), outcomes
    assert share_record(root / "same-name").owner == winners[0]
    assert load_study(root / "same-name").name == "Same name"


# ---------------------------------------------------------------------------------------------------------------
# Saves into one study folder from concurrent processes (two tabs, two users)
# ---------------------------------------------------------------------------------------------------------------


def _save_repeatedly(folder, seed, rounds, start, results):
    from core.workflows.persistence import save_study

    study = _study(f"Writer {seed}", seed=seed)
    start.wait(30)
    for _ in range(rounds):
        try:
            save_study(study, folder)
            results.put(("saved", seed))
        except RadNomoError as error:  # a clean refusal is allowed; it must say what happened
            results.put(("refused", str(error)))
        except Exception as error:  # noqa: BLE001 - reported to the test, which fails on it
            results.put(("foreign", f"{type(error).__name__}: {error}"))


def _load_repeatedly(folder, start, stop, results):
    start.wait(30)
    while not stop.is_set():
        try:
            study = load_study(folder)
            # Whole, never a mixture: the cohort is the one saved under that name.
            expected = _study(study.name, seed=int(study.name.split()[-1])).cohort
            results.put(("loaded", "ok" if study.cohort.equals(expected) else f"mixed: {study.name}"))
        except RadNomoError as error:
            results.put(("load failed", str(error)))


@pytest.mark.slow
def test_eight_processes_saving_one_study_folder_leave_it_loadable_and_whole(tmp_path):
    from core.workflows.persistence import save_study

    folder = tmp_path / "studies" / "same-study"
    save_study(_study("Writer 99", seed=99), folder)  # a previous save, as in a folder already in use
    context = multiprocessing.get_context("fork")
    results, start, stop = context.Queue(), context.Event(), context.Event()
    rounds = 3
    writers = [context.Process(target=_save_repeatedly, args=(folder, seed, rounds, start, results))
               for seed in range(8)]
    reader = context.Process(target=_load_repeatedly, args=(folder, start, stop, results))
    for process in [*writers, reader]:
        process.start()
    start.set()
    outcomes = []
    while len([o for o in outcomes if o[0] != "loaded" and o[0] != "load failed"]) < 8 * rounds:
        outcomes.append(results.get(timeout=300))
    stop.set()
    reader.join(60)
    while not results.empty():
        outcomes.append(results.get())
    for process in writers:
        process.join(30)
    problems = [o for o in outcomes if o[0] in ("foreign", "load failed") or (o[0] == "loaded" and o[1] != "ok")]
    assert problems == [], problems[:5]
    assert all("being saved by someone else" in o[1] for o in outcomes if o[0] == "refused")
    assert any(o[0] == "saved" for o in outcomes) and any(o[0] == "loaded" for o in outcomes)
    final = load_study(folder)
    assert final.cohort.equals(_study(final.name, seed=int(final.name.split()[-1])).cohort)
    leftovers = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert leftovers == []  # no temporary file of any save is left behind
