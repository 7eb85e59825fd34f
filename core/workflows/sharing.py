"""Studies shared with everyone on a server, each with its owner: sharing never replaces another user's study.

A shared study is a saved study folder under the shared folder (``<workspace>/shared/studies``), with a
record beside it, ``<folder>.owner.json``: who shared it (:func:`core.io.spaces.space_owner` of their
space, never the space's token), how they are shown (the signed-in user's name, or "anonymous" and the
short ID), the study's name and when it was shared. The first user to share a name claims the folder
(the record is created with one exclusive link, so two users sharing at the same moment cannot both
win); the owner may share it again to replace it, and anyone else is refused with a message naming
the owner and the date (no versions: a second study of the same name is given another name first).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from core.errors import RadNomoError
from core.io.limits import read_json_limited
from core.io.paths import replace_file_atomically
from core.workflows.fit import StudyModels
from core.workflows.persistence import STUDY_FILE, list_studies, save_study, study_folder_name
from core.workflows.study import Study

__all__ = ["ShareRecord", "share_study", "shared_studies", "shared_folder", "share_record", "RECORD_SUFFIX"]

RECORD_SUFFIX = ".owner.json"
RECORD_BYTES = 4096  # a record is a few hundred bytes; anything larger is not one


@dataclass(frozen=True)
class ShareRecord:
    """Who shared a study, as shown to everyone.

    Attributes
    ----------
    owner : str
        The sharer's public space ID (:func:`core.io.spaces.space_owner`).
    owner_label : str
        How the sharer is shown: a signed-in user's name, else ``"anonymous <owner>"``.
    name : str
        The study's name when it was shared.
    shared_at : str
        When, ISO 8601 in UTC to the second.
    """

    owner: str
    owner_label: str
    name: str
    shared_at: str


def _record_path(folder: Path) -> Path:
    return folder.parent / f"{folder.name}{RECORD_SUFFIX}"


def share_record(folder: str | Path) -> ShareRecord | None:
    """The record of the shared study in ``folder``; None when it has none (shared before owners were kept).

    Raises
    ------
    RadNomoError
        If the record exists but is damaged.
    """
    path = _record_path(Path(folder))
    if not path.is_file():
        return None
    values = read_json_limited(path, RECORD_BYTES, "the shared study's owner record")
    try:
        return ShareRecord(**{key: str(values[key]) for key in ("owner", "owner_label", "name", "shared_at")})
    except (KeyError, TypeError) as error:
        raise RadNomoError(f"the owner record '{path.name}' is damaged ({error}); the server's administrator can "
                           "remove it and the study folder beside it.") from error


def _claim(path: Path, record: ShareRecord) -> bool:
    """Create the record at ``path`` unless one exists, in one step (a hard link fails if the name is taken)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    temporary.write_text(json.dumps(asdict(record)))
    try:
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)


def share_study(study: Study, root: str | Path, *, owner: str, owner_label: str,
                models: StudyModels | None = None, now: datetime | None = None) -> tuple[Path, ShareRecord]:
    """Share ``study`` under ``root``, in the folder named after it, unless another owner holds that name.

    Parameters
    ----------
    study : Study
    root : path
        The shared studies' folder.
    owner : str
        The sharer's public space ID (:func:`core.io.spaces.space_owner`); never a space token.
    owner_label : str
        How the sharer is shown to others.
    models : StudyModels, optional
        The study's fitted models, saved with it.
    now : datetime, optional
        The sharing time (UTC); for tests.

    Returns
    -------
    (Path, ShareRecord)
        The shared folder and its (new) record.

    Raises
    ------
    RadNomoError
        If another owner shared a study under this name (or it was shared before owners were recorded):
        nothing is changed, and the message says who shared it and when. Also for a failing save.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / study_folder_name(study.name)
    when = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record = ShareRecord(owner=owner, owner_label=owner_label, name=study.name, shared_at=when)
    path = _record_path(folder)
    claimed = _claim(path, record)
    if not claimed:
        existing = share_record(folder)
        if existing is None or existing.owner != owner:
            shown = (f"by {existing.owner_label} on {existing.shared_at.replace('T', ' ').rstrip('Z')} UTC"
                     if existing is not None else "before owners were recorded")
            raise RadNomoError(f"a study named '{existing.name if existing else folder.name}' was already shared "
                               f"{shown}; sharing never replaces another user's study. Rename yours (Cohort page, "
                               "study name) and share it again.")
    elif (folder / STUDY_FILE).is_file():
        # A folder without a record: shared before owners were kept. Its author is unknown, so it stays theirs.
        path.unlink(missing_ok=True)
        raise RadNomoError(f"a study was already shared as '{folder.name}' before owners were recorded; sharing "
                           "never replaces it. Rename yours (Cohort page, study name) and share it again.")
    try:
        save_study(study, folder, models)
    except BaseException:
        if claimed:  # nothing was shared: the name is free again
            path.unlink(missing_ok=True)
        raise
    replace_file_atomically(path, lambda p: p.write_text(json.dumps(asdict(record))))  # the new name and time
    return folder, record


def shared_studies(root: str | Path) -> pd.DataFrame:
    """The shared studies under ``root``: :func:`~core.workflows.persistence.list_studies`'s columns with
    ``owner``, ``owner_label`` and ``shared_at`` (empty text for a study shared before owners were kept)."""
    table = list_studies(root)
    records = []
    for folder in table["folder"]:
        try:
            record = share_record(folder)
            label = "unknown (shared before owners were recorded)"
        except RadNomoError:
            record, label = None, "unknown (its owner record is damaged)"
        records.append(asdict(record) if record else {"owner": "", "owner_label": label, "shared_at": ""})
    extra = pd.DataFrame(records, columns=["owner", "owner_label", "shared_at"], index=table.index)
    return pd.concat([table, extra], axis=1)


def shared_folder(workspace: str | Path) -> Path:
    """Where studies shared on purpose are kept, listed for everyone on the server (created on first use)."""
    folder = Path(workspace) / "shared" / "studies"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
