"""The compute-bound case: an MNIST-sized MLP where a step's arithmetic, not its bookkeeping, costs.

60,000 training images of 28×28 (random pixels, ten labels; the values do not change the cost),
6,000 for validation, a 784-1024-10 MLP, batch 256, Adam. The train stage runs for 1 and for 3
epochs; the difference divided by two epochs' steps is its marginal time per step, start-up
excluded. A hand-written loop over the same arrays (shuffled index slices, validation once per
epoch, as the stage does) is timed the same way.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F

TRAIN, VAL, TEST, PIXELS, CLASSES = 60_000, 6_000, 1_000, 28 * 28, 10
HIDDEN, BATCH, LR = 1024, 256, 1e-3
EPOCHS = (1, 3)


def write_prepared(root: Path) -> None:
    """Write the prepared split the train stage reads (as the prepare stage would)."""
    from pipeline.data.prepared import PreparedData
    from pipeline.data.types import DataInfo, Split
    from pipeline.paths import Paths

    rng = np.random.default_rng(0)

    def split(size: int) -> Split:
        x = rng.random((size, PIXELS), dtype=np.float32)
        return Split(x, rng.integers(0, CLASSES, size, dtype=np.int64))

    info = DataInfo((PIXELS,), CLASSES, "mnist-sized")
    PreparedData(info, split(TRAIN), split(VAL), split(TEST)).save(Paths(root).prepared)


def params(base: dict) -> dict:
    """The default params with the compute-bound model and batch."""
    return {
        **base,
        "model": {"family": "classifier", "hidden": HIDDEN},
        "optimizer": {**base["optimizer"], "name": "adam", "lr": LR, "batch_size": BATCH},
    }


def hand_loop(root: Path, epochs: int) -> dict[str, float]:
    """Wall and CPU seconds a plain loop takes for ``epochs`` epochs (training, then validation
    each epoch)."""
    from pipeline.data.prepared import PreparedData
    from pipeline.paths import Paths

    data = PreparedData.load(Paths(root).prepared)
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    xv, yv = torch.from_numpy(data.val.x), torch.from_numpy(data.val.y)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(PIXELS, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES)
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    started, cpu = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        generator = torch.Generator()
        generator.manual_seed(epoch)
        order = torch.randperm(len(x), generator=generator)
        model.train()
        for start in range(0, len(x), BATCH):
            picked = order[start : start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[picked]), y[picked]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            for start in range(0, len(xv), BATCH):
                float(F.cross_entropy(model(xv[start : start + BATCH]), yv[start : start + BATCH]))
    return {"stage_wall": time.perf_counter() - started, "stage_cpu": time.process_time() - cpu}


def marginal_per_step(walls: dict[int, float]) -> float:
    """Seconds per step of the epochs beyond the first: (T(3) - T(1)) / steps of two epochs."""
    steps = -(-TRAIN // BATCH)
    return (walls[EPOCHS[1]] - walls[EPOCHS[0]]) / ((EPOCHS[1] - EPOCHS[0]) * steps)


def measure(root: Path, base: dict, repeats: int, pipeline_train) -> dict[str, float]:
    """Median marginal seconds per step of the train stage and of the hand loop, their ratio, and
    each per-epoch cost of the stage as a share of the epoch's training.

    ``pipeline_train(root, params, epochs, callbacks)`` runs the stage (see contenders).
    """
    write_prepared(root)
    run_params = params(base)
    runs: dict[str, list[dict[int, dict]]] = {"pipeline": [], "hand": []}
    pipeline_train(root, run_params, 1)  # warm-up: imports and the MLflow store, paid once
    parts = EpochParts()
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        runs["pipeline"].append(
            {e: pipeline_train(root, run_params, e, [parts])[0] for e in EPOCHS}
        )
        runs["hand"].append({e: hand_loop(root, e) for e in EPOCHS})

    def per_step(name: str, clock: str) -> list[float]:
        return [marginal_per_step({e: r[e][clock] for e in EPOCHS}) for r in runs[name]]

    stage, hand = per_step("pipeline", "stage_wall"), per_step("hand", "stage_wall")
    stage_cpu, hand_cpu = per_step("pipeline", "stage_cpu"), per_step("hand", "stage_cpu")
    result = {
        "pipeline_s_per_step": statistics.median(stage),
        "hand_loop_s_per_step": statistics.median(hand),
        "pipeline_over_hand_loop": statistics.median(stage) / statistics.median(hand),
        "pipeline_over_hand_loop_paired": statistics.median(
            a / b for a, b in zip(stage, hand, strict=True)
        ),
        "pipeline_over_hand_loop_cpu": statistics.median(stage_cpu) / statistics.median(hand_cpu),
    }
    training = statistics.median(e["training"] for e in parts.epochs)
    for name in parts.epochs[0]:
        if name != "training":  # each per-epoch cost as a share of the epoch's training
            result[f"{name} / epoch training"] = (
                statistics.median(e[name] for e in parts.epochs) / training
            )
    return result


class EpochParts(pl.Callback):
    """Times, in each epoch of a real fit, the training (first batch to last), the validation over
    the whole split, and what follows until the next epoch (history CSV, ``last.ckpt`` with the
    optimizer state, MLflow, Lightning's own bookkeeping)."""

    def __init__(self) -> None:
        self.epochs: list[dict[str, float]] = []
        self._marks: dict[str, float] = {}

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._close_epoch()
        self._marks = {"start": time.perf_counter()}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._marks["trained"] = time.perf_counter()

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._marks["validating"] = time.perf_counter()

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._marks["validated"] = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self._close_epoch()

    def _close_epoch(self) -> None:
        marks, now = self._marks, time.perf_counter()
        if "validated" in marks:
            self.epochs.append(
                {
                    "training": marks["trained"] - marks["start"],
                    "validation": marks["validated"] - marks["validating"],
                    "epoch end (CSV, last.ckpt, MLflow)": now - marks["validated"],
                }
            )
