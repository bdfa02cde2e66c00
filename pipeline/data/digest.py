"""Which prepared data a training read: a digest of ``data/prepared`` that names it exactly, for
the run's record (MLflow's dataset input).

The digest is DVC's own hash of the folder, from ``dvc.lock``, when the lock's prepare entry
describes the folder as it is (the same params, source fingerprint, file count and size), so the
run names the data as ``dvc`` does and ``git log -p dvc.lock`` finds it. Otherwise (a stage run by
hand, a sweep trial, no DVC) it is an MD5 of every file's path, size and content (of a file over
16 MiB, its first and last MiB).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

LOCK = "dvc.lock"
WHOLE = 16 << 20  # files up to this size are hashed whole; larger ones by size and their ends


def prepared_digest(root: Path, prepared: Path) -> tuple[str, str]:
    """``(digest, where it came from)``: DVC's hash from ``dvc.lock`` (``"dvc.lock"``), or an MD5
    of the folder's files (``"md5"``)."""
    locked = _locked_hash(root, prepared)
    if locked is not None:
        return locked, LOCK
    md5 = hashlib.md5()
    for path in _files(prepared):
        size = path.stat().st_size
        md5.update(f"{path.relative_to(prepared).as_posix()}\0{size}\0".encode())
        with path.open("rb") as handle:
            if size <= WHOLE:
                while chunk := handle.read(1 << 20):
                    md5.update(chunk)
            else:  # a large shard: its ends, so a sweep's trials do not each read gigabytes
                md5.update(handle.read(1 << 20))
                handle.seek(size - (1 << 20))
                md5.update(handle.read(1 << 20))
    return md5.hexdigest(), "md5"


def _locked_hash(root: Path, prepared: Path) -> str | None:
    """The hash ``dvc.lock`` records for ``prepared``, if its entry still describes the folder."""
    try:
        stage = yaml.safe_load((root / LOCK).read_text())["stages"]["prepare"]
        relative = prepared.resolve().relative_to(root.resolve()).as_posix()
        out = next(o for o in stage["outs"] if o["path"] == relative)
        files = _files(prepared)
        if (out["nfiles"], out["size"]) != (len(files), sum(p.stat().st_size for p in files)):
            return None
        for dep in stage.get("deps", []):
            path = root / dep["path"]
            if path.is_file() and "md5" in dep and _md5(path) != dep["md5"]:
                return None
        current = yaml.safe_load((root / "params.yaml").read_text()) or {}
        for key, value in stage.get("params", {}).get("params.yaml", {}).items():
            if _get(current, key) != value:
                return None
        return str(out["md5"])
    except (OSError, ValueError, KeyError, TypeError, StopIteration, yaml.YAMLError):
        return None


def _files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _get(params: dict[str, Any], dotted: str) -> Any:
    """The value at ``dotted`` (``data.name``) in ``params``; None where it is missing."""
    for key in dotted.split("."):
        params = params.get(key) if isinstance(params, dict) else None
    return params
