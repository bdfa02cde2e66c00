"""Fingerprints of what the stages read from outside the repository (the dataset's files, the
installed plugins), so DVC reruns the stages that depend on them when they change."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Mapping

from packaging.utils import canonicalize_name

from pipeline.errors import PipelineError


def source_fingerprint(
    entry: Any, settings: Mapping[str, Any], seen: dict | None = None
) -> dict[str, Any]:
    """The dataset, the plugin distribution providing it, and the MD5 of every source file it reads
    (``entry`` is the dataset's registry entry; ``seen``: see :func:`plugin_fingerprint`)."""
    spec = entry.spec
    files: dict[str, str] = {}
    for source in spec.sources(settings) if spec.sources else []:
        source = Path(source)
        if not source.exists():
            raise PipelineError(
                f"data source {source} of dataset {spec.name!r} does not exist; check the data "
                "settings."
            )
        for path in sorted(source.rglob("*")) if source.is_dir() else [source]:
            if path.is_file():
                files[str(path)] = _md5(path)
    return {"dataset": spec.name, "plugin": plugin_fingerprint(entry, seen), "files": files}


# This project's own code is a dependency of its stages already (pipeline/, plugins/).
SELF = "cooler-pipeline"
# Folders of an editable checkout that hold no source of the installed plugin.
_NOT_SOURCE = {"__pycache__", "build", "dist", "node_modules", "site-packages", "venv"}


def plugin_fingerprint(entry: Any, seen: dict | None = None) -> dict[str, Any]:
    """The distribution a component's plugin came from (``entry`` is its registry entry), its
    version and, for an editable install of another project, the MD5 of its source files, which
    change without a new version. ``seen`` keeps each distribution's record for the calls of one
    check: a family and its tricks often come from the same checkout."""
    dist = entry.distribution
    if dist is None:  # registered in-process, not installed
        return {"plugin": entry.package}
    seen = {} if seen is None else seen
    if id(dist) not in seen:
        seen[id(dist)] = _distribution_fingerprint(dist)
    return dict(seen[id(dist)])


def _distribution_fingerprint(dist: importlib.metadata.Distribution) -> dict[str, Any]:
    record: dict[str, Any] = {"distribution": dist.metadata["Name"], "version": dist.version}
    folder = _editable_folder(dist)
    if folder is not None and canonicalize_name(record["distribution"]) != SELF:
        record["files"] = {
            str(path.relative_to(folder)): _md5(path) for path in _source_files(folder)
        }
    return record


def _editable_folder(dist: importlib.metadata.Distribution) -> Path | None:
    """The checkout an editable install (``pip install -e``) points to, per its direct_url.json."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    direct = json.loads(text)
    if not direct.get("dir_info", {}).get("editable"):
        return None
    url = urllib.parse.urlparse(direct.get("url", ""))
    return Path(urllib.request.url2pathname(url.path)) if url.scheme == "file" else None


def _source_files(folder: Path) -> list[Path]:
    """The Python sources and packaging files under an editable checkout (hidden folders, such as
    a virtual environment, and build output skipped without being walked)."""
    found = []
    for where, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if not _skipped(f))
        found += [Path(where, f) for f in files if Path(f).suffix in _SOURCE or f in _PACKAGING]
    return sorted(found)


def _skipped(folder: str) -> bool:
    return folder.startswith(".") or folder in _NOT_SOURCE or folder.endswith(".egg-info")


_SOURCE = {".py", ".pyi"}
_PACKAGING = {"pyproject.toml", "setup.cfg", "setup.py"}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
