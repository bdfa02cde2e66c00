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
import statistics
import tempfile
from pathlib import Path

import contenders
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.1  # the pipeline may take at most this many times bare Lightning's time per sample
BATCH = 64


def family_params(name: str, epochs: int) -> dict:
    """The family's default params, composed from conf/ as ``dvc exp run -S model=<name>`` composes
    them, for ``epochs`` epochs at batch :data:`BATCH` and without tricks, so the three contenders
    do the same work."""
    from pipeline.params.hydra_groups import compose_params

    params = compose_params(REPO / "conf", [f"model={name}"])
    params["trainer"]["max_epochs"] = epochs
    params["optimizer"]["batch_size"] = BATCH
    params["tricks"] = {}
    params["tracking"]["experiment"] = "bench_families"
    return params


def hand_loop(root: Path, params: dict, data, epochs: int) -> dict[str, float]:
    """The family's module trained by a plain loop: shuffled batches, Adam, one validation pass per
    epoch."""
    from pipeline.stages.context import build_context

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

    from pipeline.data.datamodule import PreparedDataModule
    from pipeline.stages.context import build_context
    from pipeline.training.builder import build_training

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
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each contender, in turn; medians shown"
    )
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
        f"   (samples/s, median of {args.repeats}, {args.epochs} epochs, batch {BATCH}, "
        f"load {os.getloadavg()[0]:.2f})"
    )
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.families:
            root, params = Path(tmp) / name, family_params(name, args.epochs)
            data = contenders.prepare(root, params)
            n = len(data.train.y)
            runs = {"hand": [], "bare": [], "pipe": []}
            for _ in range(args.repeats):  # in turn, so a change of load touches all three alike
                runs["hand"].append(hand_loop(root, params, data, args.epochs))
                runs["bare"].append(bare_lightning(root, params, data, args.epochs))
                runs["pipe"].append(contenders.pipeline_train(root, params, args.epochs)[0])
            hand, bare, pipe = (
                statistics.median(samples_per_second(r, n) for r in runs[k])
                for k in ("hand", "bare", "pipe")
            )
            verdict = "met" if bare / pipe <= TARGET else f"over the {TARGET}x target"
            print(
                f"{name:<12} {hand:>10,.0f} {bare:>10,.0f} {pipe:>10,.0f} {hand / bare:>14.2f}x "
                f"{hand / pipe:>13.2f}x {bare / pipe:>18.2f}x   {verdict}",
                flush=True,
            )
            figures[name] = {"hand loop": hand, "bare Lightning": bare, "pipeline": pipe}
    if args.json is not None:
        record = {
            "load": os.getloadavg(),
            "repeats": args.repeats,
            "samples_per_second": figures,
            "target": TARGET,
        }
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
