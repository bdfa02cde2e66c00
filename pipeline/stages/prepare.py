"""Stage 1: load the dataset plugin's examples and write a seeded train/val/test split: arrays for
a dataset that loads them, shards for one that streams them (data bigger than memory)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict

from pipeline.context import RunContext
from pipeline.data import split_examples


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``data/prepared`` and return the split sizes."""
    settings = ctx.params["data"]
    spec = ctx.registry.dataset(settings["name"])
    folder = ctx.paths.prepared
    if spec.stream is not None:
        sizes = _write_shards(ctx, spec, settings)
    else:
        prepared = split_examples(
            spec.load(settings),
            settings["val_fraction"],
            settings["test_fraction"],
            ctx.params["seed"],
            spec.name,
        )
        shutil.rmtree(folder, ignore_errors=True)  # no shards of an earlier streamed dataset
        prepared.save(folder)
        sizes = {
            f"{name}_examples": float(len(getattr(prepared, name).y))
            for name in ("train", "val", "test")
        }
    (folder / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return sizes


def _write_shards(ctx: RunContext, spec, settings) -> dict[str, float]:
    from pipeline.shards import load_index, write_shards

    folder = ctx.paths.prepared
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    info = write_shards(
        spec.stream(settings),
        folder,
        seed=ctx.params["seed"],
        val_fraction=settings["val_fraction"],
        test_fraction=settings["test_fraction"],
        shards=settings["shards"],
        dataset=spec.name,
    )
    (folder / "info.json").write_text(
        json.dumps({**asdict(info), "storage": "shards"}, indent=2) + "\n"
    )
    index = load_index(folder)
    return {f"{name}_examples": float(sum(b.rows for b in index[name])) for name in index}
