"""Shared piece of the streaming-dataset tests (no tests here): the prepare stage run in-process,
exactly as ``pipeline run prepare`` runs it, on a dataset's settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.data.prepared import PreparedData
from pipeline.stages import prepare
from pipeline.stages.context import build_context
from tests.family_kit import REGISTRY


def prepare_in(root: Path, dataset: str, seed: int = 0, **settings: Any) -> PreparedData:
    """Run the prepare stage with ``data: {name: dataset, **settings}`` (and a family that reads
    such data) under ``root``; return what it wrote, read back, after checking that it wrote
    shards."""
    kind = REGISTRY.dataset(dataset).kind
    family = min(name for name, entry in REGISTRY.families.items() if kind in entry.spec.reads)
    raw = {"seed": seed, "data": {"name": dataset, **settings}, "model": {"family": family}}
    ctx = build_context(root, raw_params=raw)
    prepare.run(ctx)
    info = json.loads((ctx.paths.prepared / "info.json").read_text())
    assert info["storage"] == "shards"
    return PreparedData.load(ctx.paths.prepared)


def sizes_in(root: Path) -> dict[str, float]:
    """The split sizes the last prepare under ``root`` recorded."""
    return json.loads((root / "data" / "prepared" / "sizes.json").read_text())
