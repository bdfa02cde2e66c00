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

from pipeline.errors import PipelineError


def source_fingerprint(spec: Any, package: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The dataset, the plugin distribution providing it, and the MD5 of every source file it
    reads."""
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
    return {"dataset": spec.name, "plugin": plugin_fingerprint(package), "files": files}


# This project's own code is a dependency of its stages already (pipeline/, plugins/).
SELF = "cooler-pipeline"
# Folders of an editable checkout that hold no source of the installed plugin.
_NOT_SOURCE = {"__pycache__", "build", "dist", "node_modules", "site-packages", "venv"}


def plugin_fingerprint(package: str) -> dict[str, Any]:
    """The distribution a plugin came from (``package`` is ``"name version"``, or a plugin's name
    when registered in-process), its version and, for an editable install of another project, the
    MD5 of its source files, which change without a new version."""
    name = package.rsplit(" ", 1)[0]
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return {"plugin": package}
    record: dict[str, Any] = {"distribution": dist.metadata["Name"], "version": dist.version}
    folder = _editable_folder(dist)
    if folder is not None and _normal(record["distribution"]) != SELF:
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


def _normal(name: str) -> str:
    """A distribution name as packaging compares them."""
    return name.lower().replace("_", "-").replace(".", "-")


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
