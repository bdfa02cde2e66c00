"""The nvae's default run against the vae trained for the same time, measured in one run under one
load.

Through the pipeline's own prepare, train and evaluate stages (params composed from ``conf/`` as
``dvc exp run -S model=<family>`` composes them): the vae recipe as it is, timing its training; the
nvae recipe; then the vae recipe with its epochs scaled so that its train stage takes as long as the
nvae's: at its own latent size (2); at the nvae's total latent size (groups × latent); and at that
size with the nvae recipe's rate and ema trick, so that only the model differs. Prints each run's
held-out ELBO (nats per example, ``elbo`` in metrics/evaluate.json) beside its train-stage seconds
and writes them to ``docs/gallery/nvae_equal_time.json``.

Run from the repository root: ``python benchmarks/bench_nvae.py`` (about 8 minutes idle).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generative import GALLERY, composed_params  # noqa: E402


def timed_run(family: str, root: Path, overrides: tuple[str, ...] = ()) -> dict[str, float]:
    """The evaluate metrics of the recipe with ``overrides``, and its train stage's seconds."""
    from pipeline.stages import run_stage
    from pipeline.stages.context import build_context

    ctx = build_context(root, raw_params=composed_params(family, overrides))
    run_stage("prepare", ctx)
    start = time.perf_counter()
    run_stage("train", ctx)
    train_seconds = time.perf_counter() - start
    return {**run_stage("evaluate", ctx), "train_seconds": train_seconds}


def tricks(params: dict) -> list[str]:
    """Hydra overrides adding the tricks of ``params`` with their settings."""
    return [
        f"+tricks.{name}.{key}={value}"
        for name, settings in params["tricks"].items()
        for key, value in settings.items()
    ]


def main() -> None:
    import torch

    torch.set_num_threads(1)
    nvae_params = composed_params("nvae")
    nvae = nvae_params["model"]
    vae_epochs = composed_params("vae")["trainer"]["max_epochs"]
    wide = nvae["groups"] * nvae["latent"]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:  # one folder: MLflow keeps each store open
        results["vae"] = timed_run("vae", Path(tmp) / "vae")
        results["nvae"] = timed_run("nvae", Path(tmp) / "nvae")
        scale = results["nvae"]["train_seconds"] / results["vae"]["train_seconds"]
        epochs = f"trainer.max_epochs={round(vae_epochs * scale)}"
        results["vae_equal_time"] = timed_run("vae", Path(tmp) / "vae_t", (epochs,))
        wider = (epochs, f"model.latent={wide}")
        results[f"vae_latent_{wide}_equal_time"] = timed_run("vae", Path(tmp) / "vae_w", wider)
        same_training = (f"optimizer.lr={nvae_params['optimizer']['lr']}", *tricks(nvae_params))
        results[f"vae_latent_{wide}_equal_time_nvae_training"] = timed_run(
            "vae", Path(tmp) / "vae_ws", (*wider, *same_training)
        )
    summary = {
        name: {
            "elbo": round(run["elbo"], 3),
            "test_recon": round(run["test_recon"], 3),
            "test_kl": round(run["test_kl"], 3),
            "train_seconds": round(run["train_seconds"], 1),
        }
        for name, run in results.items()
    }
    summary["vae_equal_time"]["epochs"] = round(vae_epochs * scale)
    (GALLERY / "nvae_equal_time.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{'run':40} {'ELBO':>8} {'recon':>8} {'KL':>6} {'train s':>8}")
    for name, row in summary.items():
        print(
            f"{name:40} {row['elbo']:8.3f} {row['test_recon']:8.3f} {row['test_kl']:6.3f} "
            f"{row['train_seconds']:8.1f}"
        )


if __name__ == "__main__":
    main()
