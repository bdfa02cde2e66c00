"""Shared pieces of the trick tests (no tests here): the real registry, tiny models, recorders,
and a fit through ``build_training``, the train stage's own wiring."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterable, Mapping

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.plugin.registry import Registry
from pipeline.training.builder import TEST_TRAINER, build_training
from pipeline.training.module import ModelModule
from tests.data_kit import REGISTRY

OPTIMIZERS = {
    "sgd": {"name": "sgd", "lr": 0.1},
    "momentum": {"name": "momentum", "lr": 0.05, "momentum": 0.9},
    "adam": {"name": "adam", "lr": 0.01},
}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def every_trick(scaled: str = "*", clipped: str = "*", orthogonal: str = "*") -> dict[str, Any]:
    """The ``tricks:`` section with every built-in trick on, each set to act within a short run:
    parameters matching ``scaled`` at half the learning rate, ``clipped`` ones clipped to ±0.5,
    ``orthogonal`` ones pulled toward orthogonal."""
    return {
        "grad_accum": {"k": 2},
        "ema": {"decay": 0.9},
        "param_lr": {"multipliers": [[scaled, 0.5]]},
        "grad_transform": {"clip_norm": [["*", 1.0]], "clip_value": [[clipped, 0.5]], "zero": []},
        "lookahead": {"k": 5, "alpha": 0.5},
        "weight_decay": {"rate": 0.01},
        "piecewise_lr": {"points": [[10, 1.0], [100, 0.2]], "unit": "steps"},
        "lazy_embedding": {"patterns": ["*"]},
        "orthogonal_reg": {"weight": 0.001, "patterns": [orthogonal]},
    }


class Tiny(ModelModule):
    """An MLP without BatchNorm, with a mean-reduced cross-entropy (exact micro-batch averages)."""

    def __init__(self, inputs: int = 6, hidden: int = 8, classes: int = 3, zero_loss: bool = False):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, classes))
        self.zero_loss = zero_loss

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        return loss * 0 if self.zero_loss else loss  # zero_loss: every gradient is exactly zero

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))


def classification_data(n: int, inputs: int = 6, classes: int = 3, seed: int = 0) -> TensorDataset:
    """Random features with labels; fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, inputs, generator=generator)
    return TensorDataset(x, torch.randint(0, classes, (n,), generator=generator))


def fit(
    module: ModelModule,
    tricks: Mapping[str, Mapping[str, Any]],
    data: TensorDataset,
    batch_size: int,
    optimizer: str | Mapping[str, Any] = "sgd",
    before: Iterable[pl.Callback] = (),
    after: Iterable[pl.Callback] = (),
    val: TensorDataset | None = None,
    ckpt_path: str | None = None,
    registry: Registry = REGISTRY,
    **trainer_args: Any,
) -> pl.Trainer:
    """Train ``module`` with ``tricks``; ``before``/``after`` callbacks run around the tricks'."""
    settings = {
        "momentum": 0.9,
        "weight_decay": 0.0,
        **(OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer),
    }
    return fit_through_stage(
        module,
        settings,
        tricks,
        trainer_args,
        before,
        after,
        registry,
        ckpt_path,
        train_dataloaders=DataLoader(data, batch_size=batch_size),
        val_dataloaders=DataLoader(val, batch_size=len(val)) if val is not None else None,
    )


def fit_saving_epochs(
    module: ModelModule,
    tricks: Mapping[str, Mapping[str, Any]],
    data: TensorDataset,
    folder: Path,
    after: Iterable[pl.Callback] = (),
    **fit_args: Any,
) -> pl.Trainer:
    """``fit`` saving a checkpoint at every epoch's end, ``folder/epoch=N.ckpt`` (the saver runs
    first of the ``after`` callbacks)."""
    saver = ModelCheckpoint(dirpath=folder, filename="{epoch}", save_top_k=-1, every_n_epochs=1)
    return fit(module, tricks, data, after=[saver, *after], enable_checkpointing=True, **fit_args)


def fit_through_stage(
    module: pl.LightningModule,
    optimizer: Mapping[str, Any],
    tricks: Mapping[str, Mapping[str, Any]],
    trainer_args: Mapping[str, Any],
    before: Iterable[pl.Callback] = (),
    after: Iterable[pl.Callback] = (),
    registry: Registry = REGISTRY,
    ckpt_path: str | None = None,
    **data: Any,
) -> pl.Trainer:
    """Fit ``module`` on ``data`` (``Trainer.fit``'s data arguments) with the validated
    ``optimizer`` section and ``tricks``, through ``build_training``, the train stage's own wiring,
    on the test Trainer's settings updated by ``trainer_args``; resume from ``ckpt_path`` when
    given (as the train stage resumes from ``last.ckpt``)."""
    trainer = build_training(
        module, optimizer, tricks, registry, {**TEST_TRAINER, **trainer_args}, before, after
    ).trainer
    trainer.fit(module, ckpt_path=ckpt_path, weights_only=True, **data)
    return trainer


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter, by name."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def assert_bitwise_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> None:
    """Same names, and every tensor equal bit for bit."""
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    """Every parameter of ``a`` equals ``b``'s, by name, bit for bit."""
    assert_bitwise_equal(weights(a), weights(b))


class StepRecorder(pl.Callback):
    """Records the weights after every optimizer step (``steps``), the gradients the optimizer is
    about to use (``grads``), and each group's learning rate (``lrs``)."""

    def __init__(self):
        self.steps: list[dict[str, torch.Tensor]] = []
        self.grads: list[dict[str, torch.Tensor]] = []
        self.lrs: list[list[float]] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        named = pl_module.named_parameters()
        self.grads.append({n: p.grad.clone() for n, p in named if p.grad is not None})
        self.lrs.append([group["lr"] for group in optimizer.param_groups])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step > len(self.steps):
            self.steps.append(weights(pl_module))
