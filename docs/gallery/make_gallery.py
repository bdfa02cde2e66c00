"""Regenerates docs/gallery: one default run per generative family through the pipeline's own
stages.

Each family trains with params.yaml's defaults and its conf/model/<family>.yaml (digits, 20 epochs),
evaluates, and one of its pictures is copied here with the run's metrics into metrics.json.
Run from the repository root: ``python docs/gallery/make_gallery.py [family ...]``.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
GALLERY = Path(__file__).resolve().parent
PICTURES = {
    "vae": "latent_manifold",
    "cvae": "class_samples",
    "cluster_vae": "cluster_samples",
    "gan": "samples",
    "wgan_gp": "samples",
    "ogan": "reconstructions",
}


def default_run(family: str, root: Path) -> dict[str, float]:
    """prepare → train → evaluate in ``root`` with the family's defaults; returns the evaluate
    metrics."""
    from pipeline.context import build_context
    from pipeline.stages import run_stage

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"] = yaml.safe_load((REPO / "conf" / "model" / f"{family}.yaml").read_text())
    ctx = build_context(root, raw_params=params)
    for stage in ("prepare", "train"):
        run_stage(stage, ctx)
    return dict(run_stage("evaluate", ctx))


def main(families: list[str]) -> None:
    torch.set_num_threads(1)
    results_path = GALLERY / "metrics.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    # One folder for all runs: MLflow keeps each store open for the life of the process.
    with tempfile.TemporaryDirectory() as tmp:
        for family in families:
            root = Path(tmp) / family
            metrics = default_run(family, root)
            shutil.copy(
                root / "plots" / "evaluate" / f"{PICTURES[family]}.png", GALLERY / f"{family}.png"
            )
            results[family] = {k: round(v, 4) for k, v in sorted(metrics.items())}
            results_path.write_text(json.dumps(results, indent=2) + "\n")
            print(family, results[family], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(PICTURES))
