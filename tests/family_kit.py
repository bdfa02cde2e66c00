"""Shared pieces of the family tests (no tests here): prepared data, families built through the real
registry, and a fit through ``build_training``, the train stage's own wiring."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Mapping

import lightning.pytorch as pl

from pipeline.data.datamodule import PreparedDataModule
from pipeline.data.prepared import PreparedData
from pipeline.training.builder import TEST_TRAINER, build_training
from pipeline.training.callbacks.history import EpochHistory
from tests.data_kit import REGISTRY, build_unseeded, prepared

__all__ = ["ADAM", "CONF", "REGISTRY", "build", "fit", "prepared", "read_history", "recipe"]

CONF = Path(__file__).resolve().parents[1] / "conf"
ADAM = {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def build(family: str, data: PreparedData, seed: int = 0, **settings: Any):
    """A fresh module of ``family`` with its validated defaults overridden by ``settings``."""
    pl.seed_everything(seed, verbose=False)
    return build_unseeded(family, data, **settings)


def recipe(family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model settings and tricks ``dvc exp run -S model=<family>`` composes from conf/."""
    from pipeline.params.hydra_groups import compose_params

    params = compose_params(CONF, [f"model={family}"])
    settings = {k: v for k, v in params["model"].items() if k != "family"}
    return settings, params["tricks"]


def fit(
    module,
    data: PreparedData,
    history: Path | None = None,
    tricks: Mapping[str, Any] | None = None,
    optimizer: Mapping[str, Any] = ADAM,
    batch_size: int = 64,
    callbacks: list[pl.Callback] = (),
    ckpt_path: str | None = None,
    **trainer_args: Any,
) -> pl.Trainer:
    """Train with the core's optimizer (and ``tricks``) through the train stage's wiring, resuming
    from ``ckpt_path`` when given (as the train stage resumes from ``last.ckpt``)."""
    recorders = [EpochHistory(history)] if history else []
    trainer = build_training(
        module,
        optimizer,
        tricks or {},
        REGISTRY,
        {**TEST_TRAINER, **trainer_args},
        extra_callbacks=[*recorders, *callbacks],
    ).trainer
    datamodule = PreparedDataModule(data, batch_size, seed=0)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    return trainer


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows EpochHistory wrote, as floats."""
    with path.open() as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]
