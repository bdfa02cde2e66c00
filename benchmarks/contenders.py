"""The four contenders the pipeline benchmark times: a hand loop, plain Lightning, the train stage,
Keras fit.

Each trains the classifier's MLP (64 → 100 ReLU → 10, cross-entropy, Adam 1e-3) with batch 64 on the
prepared digits split, validates once per epoch, and returns seconds per optimizer step.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

BATCH, LR, HIDDEN = 64, 1e-3, 100


class Timing:
    """Wall and CPU time from train start to train end, with a mark at each epoch start to drop the
    first epoch.

    CPU time (every thread of the process) shows the work done; unlike wall time it barely moves
    when other
    processes load the machine, but it misses time spent waiting, e.g. for a disk to confirm a
    write.
    """

    def __init__(self):
        self.start = self.end = self.cpu = 0.0
        self.steps = 0
        self.marks: list[tuple[float, int]] = []  # (time, steps done) at each epoch start

    def begin(self) -> None:
        """Start the clock."""
        self.start, self.cpu = time.perf_counter(), time.process_time()

    def epoch(self) -> None:
        """Note the start of an epoch."""
        self.marks.append((time.perf_counter(), self.steps))

    def finish(self, steps: int | None = None) -> dict[str, float]:
        """Stop the clock; return seconds per step overall and from the second epoch on."""
        self.end = time.perf_counter()
        self.steps = self.steps if steps is None else steps
        second, done = self.marks[1] if len(self.marks) > 1 else (self.start, 0)
        return {
            "per_step": (self.end - self.start) / self.steps,
            "cpu_per_step": (time.process_time() - self.cpu) / self.steps,
            "per_step_warm": (self.end - second) / max(self.steps - done, 1),
            "steps": self.steps,
            "epochs": len(self.marks),
            "load": os.getloadavg()[0],
        }


class LightningTimer(pl.Callback):
    """Times a Lightning fit from ``on_train_start`` to ``on_train_end`` and counts optimizer
    steps."""

    def __init__(self):
        self.timing = Timing()
        self.result: dict[str, float] = {}
        self.trainer: pl.Trainer | None = None

    def on_train_start(self, trainer, pl_module):
        self.timing.begin()

    def on_train_epoch_start(self, trainer, pl_module):
        self.timing.steps = trainer.global_step
        self.timing.epoch()

    def on_train_end(self, trainer, pl_module):
        self.trainer = trainer
        self.result = {
            **self.timing.finish(trainer.global_step),
            "threads": torch.get_num_threads(),
        }


def mlp() -> torch.nn.Module:
    """The classifier's network: Linear(64, 100) → ReLU → Linear(100, 10)."""
    return torch.nn.Sequential(
        torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10)
    )


def hand_loop(data, epochs: int) -> dict[str, float]:
    """A plain PyTorch loop with the same per-epoch validation as the others."""
    torch.manual_seed(0)
    model, (xv, yv) = mlp(), tensors(data.val)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(TensorDataset(*tensors(data.train)), batch_size=BATCH, shuffle=True)
    timing = Timing()
    timing.begin()
    for _ in range(epochs):
        timing.epoch()
        model.train()
        for x, y in loader:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            timing.steps += 1
        model.eval()
        with torch.no_grad():
            logits = model(xv)
            float(F.cross_entropy(logits, yv)), float((logits.argmax(1) == yv).float().mean())
    return {**timing.finish(), "threads": torch.get_num_threads()}


class PlainModule(pl.LightningModule):
    """The classifier written as a minimal LightningModule, logging the same epoch metrics."""

    def __init__(self):
        super().__init__()
        self.net = mlp()

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=LR)


def plain_lightning(data, epochs: int) -> dict[str, float]:
    """A bare Trainer: no logger, checkpointing, progress bar or summary; same trainer settings as
    params.yaml."""
    pl.seed_everything(0, verbose=False)
    timer = LightningTimer()
    trainer = pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        deterministic=True,
        log_every_n_steps=10,
        callbacks=[timer],
    )
    train = DataLoader(TensorDataset(*tensors(data.train)), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(*tensors(data.val)), batch_size=256)
    trainer.fit(PlainModule(), train, val)
    return timer.result


class _NotATerminal:
    """stderr as seen from a pipe, so the pipeline draws no progress bar, like the plain Trainer."""

    def __init__(self, stream):
        self._stream = stream

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._stream, name)


def pipeline_train(
    root: Path, params: dict, epochs: int, callbacks: list = ()
) -> tuple[dict[str, float], pl.Trainer]:
    """The real train stage (MLflow logging, last.ckpt every epoch, history CSV, plugins) with a
    timing callback and ``callbacks``; returns the timings and the finished Trainer."""
    from pipeline.stages import run_stage
    from pipeline.stages.context import build_context

    ctx = build_context(
        root, raw_params={**params, "trainer": {**params["trainer"], "max_epochs": epochs}}
    )
    timer = LightningTimer()
    ctx.extra_callbacks.extend([timer, *callbacks])
    started, cpu = time.perf_counter(), time.process_time()
    with contextlib.redirect_stderr(_NotATerminal(sys.stderr)):
        run_stage("train", ctx)
    spent = {"stage_wall": time.perf_counter() - started, "stage_cpu": time.process_time() - cpu}
    return {**timer.result, **spent}, timer.trainer


def prepare(root: Path, params: dict):
    """Run the prepare stage in ``root`` and return the split it wrote."""
    from pipeline.data.prepared import PreparedData
    from pipeline.stages import run_stage
    from pipeline.stages.context import build_context

    ctx = build_context(root, raw_params=params)
    run_stage("prepare", ctx)
    return PreparedData.load(ctx.paths.prepared)


def tensors(split) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's arrays as torch tensors."""
    return torch.from_numpy(split.x), torch.from_numpy(split.y)


def keras_worker(conn, data) -> None:
    """In a child process (TensorFlow's threads are fixed at start): fit Keras once per request
    received."""
    os.environ["KERAS_BACKEND"] = "tensorflow"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.timing, self.result = Timing(), {}

        def on_train_begin(self, logs=None):
            self.timing.begin()

        def on_epoch_begin(self, epoch, logs=None):
            self.timing.epoch()

        def on_train_batch_end(self, batch, logs=None):
            self.timing.steps += 1

        def on_train_end(self, logs=None):
            threads = tf.config.threading.get_intra_op_parallelism_threads()
            self.result = {**self.timing.finish(), "threads": threads}

    while (epochs := conn.recv()) is not None:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(HIDDEN, activation="relu"),
                keras.layers.Dense(10),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(LR),
            metrics=["accuracy"],
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        timer = Timer()
        model.fit(
            data.train.x,
            data.train.y,
            batch_size=BATCH,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            validation_data=(data.val.x, data.val.y),
            callbacks=[timer],
        )
        conn.send(timer.result)
