"""Stage 1: load the dataset plugin's arrays and write a seeded train/val/test split."""

from __future__ import annotations

import json

from pipeline.context import RunContext
from pipeline.data import split_examples


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``data/prepared`` and return the split sizes."""
    settings = ctx.params["data"]
    spec = ctx.registry.dataset(settings["name"])
    prepared = split_examples(
        spec.load(settings),
        settings["val_fraction"],
        settings["test_fraction"],
        ctx.params["seed"],
        spec.name,
    )
    prepared.save(ctx.paths.prepared)
    sizes = {
        f"{name}_examples": float(len(getattr(prepared, name).y))
        for name in ("train", "val", "test")
    }
    (ctx.paths.prepared / "sizes.json").write_text(json.dumps(sizes, indent=2) + "\n")
    return sizes
