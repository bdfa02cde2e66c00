"""Puts back, from DVC's cache, the outputs DVC removed before running a stage that then failed.

``dvc repro`` deletes a stage's outputs before running its command. When the command fails, DVC
leaves ``dvc.lock`` as it was but the workspace without those outputs; this module copies each one
back from the cache, as ``dvc.lock`` records it, so a failed run never costs the last good model,
metrics or export. Only the command that DVC runs (``DVC_STAGE`` set) does this.

DVC records each stage in ``dvc.lock`` as soon as it succeeds, so when train succeeded and
evaluate then failed, the workspace would hold the new model beside the last good metrics and
export. A failed stage therefore rolls back the whole ``dvc repro``: the check stage, which every
repro runs first, remembers ``dvc.lock`` as the repro found it (:func:`remember_repro_start`), and
the stages this repro already finished get their outputs and their ``dvc.lock`` entries back from
that. What they produced stays in DVC's run cache, so the next ``dvc repro`` takes it back
without running them again. The remembered state names the ``dvc`` process (the stage command's
nearest ancestor that is not the shell DVC runs it in: bash execs the command, dash does not), so a
later ``dvc repro -s`` that skips check never rolls back to an older repro's start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

START = Path(".dvc") / "tmp" / "pipeline-repro-start.json"  # under the repository root


@dataclass(frozen=True)
class Restored:
    """What a failed stage put back: output paths, and the earlier stages of the repro it rolled
    back."""

    paths: list[str]
    stages: list[str]


def _dvc_stage() -> tuple[str, Path] | None:
    """The stage of the root dvc.yaml that DVC runs in this process, and the repository root; None
    outside ``dvc repro`` or in a queued or ``--temp`` run's copy (whose failure never touched the
    user's workspace, and which is thrown away)."""
    from pipeline.paths import in_temporary_copy

    stage, root = os.environ.get("DVC_STAGE"), os.environ.get("DVC_ROOT")
    if not stage or not root or ":" in stage or in_temporary_copy(Path.cwd()):
        return None
    return stage, Path(root)


# The shells DVC may run a stage's command in ($SHELL, else /bin/sh).
_SHELLS = frozenset({"sh", "dash", "bash", "zsh", "fish", "ksh", "mksh", "busybox"})


def _dvc_process() -> list[float]:
    """The ``dvc`` process running this stage, as [pid, start time] (a pid alone may be reused):
    the nearest ancestor that is not a shell."""
    import psutil

    process = psutil.Process().parent()
    while process is not None and process.name() in _SHELLS:
        process = process.parent()
    if process is None:
        return [os.getppid(), 0.0]
    return [process.pid, process.create_time()]


def remember_repro_start() -> None:
    """In the check stage that DVC runs: remember ``dvc.lock`` as this repro found it."""
    from pipeline._runtime.atomic_file import write_atomically

    running = _dvc_stage()
    if running is None or running[0] != "check":
        return
    root = running[1]
    lock = root / "dvc.lock"
    state = {"dvc": _dvc_process(), "lock": lock.read_text() if lock.is_file() else None}
    text = json.dumps(state)
    write_atomically(root / START, lambda tmp: tmp.write_text(text))


def restore_failed_stage() -> Restored:
    """Restore the outputs of the stage DVC is running now, and roll back the stages this repro
    finished before it; return what was put back."""
    running = _dvc_stage()
    if running is None:
        return Restored([], [])
    stage, root = running
    earlier, restored = _roll_back_earlier_stages(root, stage)
    return Restored(restored + restore_outputs(root, stage), earlier)


def _roll_back_earlier_stages(root: Path, failed: str) -> tuple[list[str], list[str]]:
    """Give the stages this repro finished before ``failed`` their outputs and ``dvc.lock`` entries
    from the repro's start; return those stages and the outputs put back."""
    start_file = root / START
    if not start_file.is_file():
        return [], []
    start = json.loads(start_file.read_text())
    if start.get("dvc") != _dvc_process() or not start.get("lock"):
        return [], []  # another repro's start, or this repro's first results: nothing to go back to
    before = _stages(start["lock"])
    now = _stages((root / "dvc.lock").read_text())
    changed = [s for s in now if s != failed and now[s] != before.get(s)]
    if not changed or any(s not in before for s in changed):
        return [], []
    restored = _restore_entries(root, [before[stage] for stage in changed])
    from pipeline._runtime.atomic_file import write_atomically

    write_atomically(root / "dvc.lock", lambda tmp: tmp.write_text(start["lock"]))
    return changed, restored


def _stages(lock_text: str) -> dict[str, Any]:
    return (yaml.safe_load(lock_text) or {}).get("stages") or {}


def restore_outputs(root: Path, stage: str) -> list[str]:
    """Reset every output ``dvc.lock`` records for ``stage`` to its recorded content; return those
    restored."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return []
    return _restore_entries(root, [_stages(lock.read_text()).get(stage) or {}])


def _restore_entries(root: Path, entries: list[dict[str, Any]]) -> list[str]:
    """Reset the outputs that stages' ``dvc.lock`` ``entries`` record; return those restored."""
    outs = [
        out
        for entry in entries
        for out in entry.get("outs") or []
        if out.get("md5") and out.get("path")
    ]
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
