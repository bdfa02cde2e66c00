"""Training samples per second of every model family: the pipeline's train stage against a
hand-written PyTorch loop of the same model, loss and data (one run each, on one thread, validating
once per epoch).

The pipeline run is the real train stage (MLflow logging, a checkpoint every epoch, the history CSV,
the core's optimizer) with each family's defaults from conf/model/; the hand loop builds the same
module and steps Adam on the family's own ``objective`` (the loss its training_step logs and
returns). A bare Lightning fit of the same module (no logger, checkpoints or callbacks) sits between
the two, so the ratio splits into what Lightning and the family's logging cost and what the stage
adds per epoch. Run: ``python benchmarks/bench_families.py`` (``--epochs N``, ``--families vae
gan``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import contenders
import torch
import torch.nn.functional as F
import yaml
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.1  # the pipeline may take at most this many times bare Lightning's time per sample
BATCH = 64


def family_params(name: str, epochs: int) -> dict:
    """params.yaml with the family's conf/model defaults and ``epochs`` epochs."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["model"] = yaml.safe_load((REPO / "conf" / "model" / f"{name}.yaml").read_text())
    params["trainer"]["max_epochs"] = epochs
    params["tracking"]["experiment"] = "bench_families"
    return params


def hand_loop(root: Path, params: dict, data, epochs: int) -> dict[str, float]:
    """The family's module trained by a plain loop: shuffled batches, Adam, one validation pass per
    epoch."""
    from pipeline.context import build_context

    ctx = build_context(root, raw_params=params)
    torch.manual_seed(params["seed"])
    module = (
        ctx.registry.family(params["model"]["family"]).load().build(ctx.params["model"], data.info)
    )
    objective = getattr(module, "objective", None) or (
        lambda b: (F.cross_entropy(module(b[0]), b[1]), {})
    )
    optimizer = torch.optim.Adam(module.parameters(), lr=params["optimizer"]["lr"])
    loader = DataLoader(
        TensorDataset(*contenders.tensors(data.train)), batch_size=BATCH, shuffle=True
    )
    val = contenders.tensors(data.val)
    timing = contenders.Timing()
    timing.begin()
    for _ in range(epochs):
        timing.epoch()
        module.train()
        for batch in loader:
            optimizer.zero_grad(set_to_none=True)
            objective(batch)[0].backward()
            optimizer.step()
            timing.steps += 1
        module.eval()
        with torch.enable_grad():  # gradient penalties differentiate even when validating
            {k: float(v) for k, v in objective(val)[1].items()}
    return timing.finish()


def bare_lightning(root: Path, params: dict, data, epochs: int) -> dict[str, float]:
    """The same module fitted by a Trainer without logger, checkpoints or the stage's callbacks."""
    import lightning.pytorch as pl

    from pipeline.context import build_context
    from pipeline.datamodule import PreparedDataModule
    from pipeline.training import build_training

    ctx = build_context(root, raw_params=params)
    pl.seed_everything(params["seed"], verbose=False)
    module = (
        ctx.registry.family(params["model"]["family"]).load().build(ctx.params["model"], data.info)
    )
    timer = contenders.LightningTimer()
    bare = {
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "max_epochs": epochs,
        "accelerator": "cpu",
        "devices": 1,
        "deterministic": True,
    }
    optimizer = ctx.params["optimizer"]
    trainer = build_training(module, optimizer, {}, ctx.registry, bare, [timer]).trainer
    trainer.fit(module, datamodule=PreparedDataModule(data, BATCH, params["seed"]))
    return timer.result


def samples_per_second(result: dict[str, float], train_examples: int) -> float:
    """Training examples per second after the first epoch (which holds the one-off start-up
    costs)."""
    steps_per_epoch = result["steps"] / result["epochs"]
    return train_examples / (steps_per_epoch * result["per_step_warm"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--families",
        nargs="*",
        default=["classifier", "vae", "cvae", "cluster_vae", "gan", "wgan_gp", "ogan"],
    )
    args = parser.parse_args()
    torch.set_num_threads(
        1
    )  # tiny models: threads only add synchronisation (and noise on a shared machine)
    print(
        f"{'family':<12} {'hand loop':>10} {'Lightning':>10} {'pipeline':>10} "
        f"{'Lightning/hand':>15} {'pipeline/hand':>14} {'pipeline/Lightning':>19}"
        f"   (samples/s, {args.epochs} epochs, batch {BATCH}, load {os.getloadavg()[0]:.2f})"
    )
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.families:
            root, params = Path(tmp) / name, family_params(name, args.epochs)
            data = contenders.prepare(root, params)
            n = len(data.train.y)
            hand = samples_per_second(hand_loop(root, params, data, args.epochs), n)
            bare = samples_per_second(bare_lightning(root, params, data, args.epochs), n)
            pipe = samples_per_second(contenders.pipeline_train(root, params, args.epochs)[0], n)
            verdict = "met" if bare / pipe <= TARGET else f"over the {TARGET}x target"
            print(
                f"{name:<12} {hand:>10,.0f} {bare:>10,.0f} {pipe:>10,.0f} {hand / bare:>14.2f}x "
                f"{hand / pipe:>13.2f}x {bare / pipe:>18.2f}x   {verdict}",
                flush=True,
            )
            figures[name] = {"hand loop": hand, "bare Lightning": bare, "pipeline": pipe}
    if args.json is not None:
        record = {"load": os.getloadavg(), "samples_per_second": figures, "target": TARGET}
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
