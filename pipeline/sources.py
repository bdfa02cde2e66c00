"""The fingerprint of the files a dataset plugin reads, so DVC reruns prepare when they change."""

from __future__ import annotations

import hashlib
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
    return {"dataset": spec.name, "plugin": package, "files": files}


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
