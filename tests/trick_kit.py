"""Shared pieces of the trick tests (no tests here): the real registry, tiny models, recorders,
and a fit through ``build_training``, the train stage's own wiring."""

from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.training.builder import TEST_TRAINER, build_training
from pipeline.training.module import ModelModule

REGISTRY = Registry(create_plugin_manager())
OPTIMIZERS = {
    "sgd": {"name": "sgd", "lr": 0.1},
    "momentum": {"name": "momentum", "lr": 0.05, "momentum": 0.9},
    "adam": {"name": "adam", "lr": 0.01},
}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


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
    trainer = build_training(
        module, settings, tricks, registry, {**TEST_TRAINER, **trainer_args}, before, after
    ).trainer
    val_loader = DataLoader(val, batch_size=len(val)) if val is not None else None
    trainer.fit(
        module,
        DataLoader(data, batch_size=batch_size),
        val_loader,
        ckpt_path=ckpt_path,
        weights_only=True,
    )
    return trainer


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter, by name."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def assert_bitwise_equal(a: Mapping[str, torch.Tensor], b: Mapping[str, torch.Tensor]) -> None:
    """Same names, and every tensor equal bit for bit."""
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


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
