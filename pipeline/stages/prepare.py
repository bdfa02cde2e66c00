"""Stage 1: load the dataset plugin's examples and write a seeded train/val/test split: arrays for
a dataset that loads them, shards for one that streams them (data bigger than memory).

The split is written into a staging folder beside ``data/prepared`` and swapped in when complete,
so a failure or a kill never leaves a half-written split where the later stages read it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

from pipeline._runtime.atomic_folder import recover_dir, replace_dir
from pipeline.data.prepared import split_examples
from pipeline.stages.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``data/prepared`` and return the split sizes."""
    settings = ctx.params["data"]
    spec = ctx.registry.dataset(settings["name"])
    target = ctx.paths.prepared
    recover_dir(target)
    source = spec.stream(settings) if spec.stream is not None else None
    staging = target.parent / f".{target.name}-staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        if source is not None:
            sizes = _write_shards(ctx, spec.name, source, staging)
        else:
            sizes = _write_arrays(ctx, spec, staging)
        (staging / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
        replace_dir(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sizes


def _write_arrays(ctx: RunContext, spec, folder: Path) -> dict[str, float]:
    settings = ctx.params["data"]
    prepared = split_examples(
        spec.load(settings),
        settings["val_fraction"],
        settings["test_fraction"],
        ctx.params["seed"],
        spec.name,
    )
    prepared.save(folder)
    return {
        f"{name}_examples": float(len(getattr(prepared, name).y))
        for name in ("train", "val", "test")
    }


def _write_shards(ctx: RunContext, dataset: str, source, folder: Path) -> dict[str, float]:
    from pipeline.data.shards import load_index, write_shards

    settings = ctx.params["data"]
    info = write_shards(
        source,
        folder,
        seed=ctx.params["seed"],
        val_fraction=settings["val_fraction"],
        test_fraction=settings["test_fraction"],
        shards=settings["shards"],
        dataset=dataset,
    )
    (folder / "info.json").write_text(
        json.dumps({**asdict(info), "storage": "shards"}, indent=2) + "\n"
    )
    index = load_index(folder)
    return {f"{name}_examples": float(sum(b.rows for b in index[name])) for name in index}
