"""Puts back, from DVC's cache, the outputs DVC removed before running a stage that then failed.

``dvc repro`` deletes a stage's outputs before running its command. When the command fails, DVC
leaves ``dvc.lock`` as it was but the workspace without those outputs; this module copies each one
back from the cache, as ``dvc.lock`` records it, so a failed run never costs the last good model,
metrics or export. Only the command that DVC runs (``DVC_STAGE`` set) does this.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import yaml


def restore_failed_stage() -> list[str]:
    """Restore the outputs of the stage DVC is running now, if any; return the paths put back."""
    from pipeline.paths import in_temporary_copy

    stage, root = os.environ.get("DVC_STAGE"), os.environ.get("DVC_ROOT")
    if not stage or not root or ":" in stage:  # only stages of the root dvc.yaml
        return []
    if in_temporary_copy(Path.cwd()):  # a queued or --temp run: DVC_ROOT is the user's workspace,
        return []  # whose results this failure never touched; the copy itself is thrown away
    return restore_outputs(Path(root), stage)


def restore_outputs(root: Path, stage: str) -> list[str]:
    """Reset every output ``dvc.lock`` records for ``stage`` to its recorded content; return those
    restored."""
    outs = _locked_outputs(root, stage)
    if not outs:
        return []
    from dvc.repo import Repo

    restored = []
    with Repo(str(root)) as repo:  # reading the cache takes no repository lock
        odb = repo.cache.local
        for out in outs:
            if _copy_from_cache(odb, out["md5"], root / out["path"]):
                restored.append(out["path"])
    return restored


def _locked_outputs(root: Path, stage: str) -> list[dict[str, Any]]:
    lock = root / "dvc.lock"
    if not lock.is_file():
        return []
    entry = ((yaml.safe_load(lock.read_text()) or {}).get("stages") or {}).get(stage) or {}
    return [out for out in entry.get("outs") or [] if out.get("md5") and out.get("path")]


def _copy_from_cache(odb: Any, md5: str, target: Path) -> bool:
    """Write the cached object ``md5`` (a file, or a folder for ``*.dir``) at ``target``; False if
    not cached, or if ``target`` already holds it (an output DVC kept in place, ``persist``, that
    the failed stage did not touch: copying it again would only cost space, a full disk's last)."""
    if md5.endswith(".dir"):
        manifest = Path(odb.oid_to_path(md5))
        if not manifest.is_file():
            return False
        files = [
            (Path(odb.oid_to_path(item["md5"])), item["relpath"], item["md5"])
            for item in json.loads(manifest.read_text())
        ]
        if not all(source.is_file() for source, _, _ in files):
            return False
        if _holds(target, {relpath: digest for _, relpath, digest in files}):
            return False
        with _staging(target) as staging:
            for source, relpath, _ in files:
                (staging / relpath).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, staging / relpath)
            _replace(staging, target)
        return True
    source = Path(odb.oid_to_path(md5))
    if not source.is_file() or (target.is_file() and _md5(target) == md5):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with _staging(target) as staging:
        shutil.copyfile(source, staging)  # the cache's copy is read-only; the workspace's is not
        _replace(staging, target)
    return True


def _holds(folder: Path, digests: dict[str, str]) -> bool:
    """Whether ``folder`` holds exactly the files ``digests`` lists ({relpath: md5})."""
    if not folder.is_dir():
        return False
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    return found == set(digests) and all(_md5(folder / r) == d for r, d in digests.items())


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, removed whatever happens (a full disk included)."""
    staging = target.parent / f".{target.name}-restore.tmp"
    _remove(staging)
    try:
        yield staging
    finally:
        _remove(staging)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _replace(new: Path, target: Path) -> None:
    _remove(target)
    new.rename(target)
