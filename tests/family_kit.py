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
from pipeline.training.callbacks.history import EpochHistory
from tests.data_kit import REGISTRY, build_unseeded, prepared
from tests.project_kit import CONF, composed
from tests.trick_kit import fit_through_stage

__all__ = [
    "ADAM",
    "CONF",
    "REGISTRY",
    "build",
    "fit",
    "prepared",
    "read_history",
    "recipe",
    "short_run",
]

ADAM = {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


def build(family: str, data: PreparedData, seed: int = 0, **settings: Any):
    """A fresh module of ``family`` with its validated defaults overridden by ``settings``."""
    pl.seed_everything(seed, verbose=False)
    return build_unseeded(family, data, **settings)


def recipe(family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model settings and tricks ``dvc exp run -S model=<family>`` composes from conf/."""
    params = composed(f"model={family}")
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
    return fit_through_stage(
        module,
        optimizer,
        tricks or {},
        trainer_args,
        after=[*recorders, *callbacks],
        ckpt_path=ckpt_path,
        datamodule=PreparedDataModule(data, batch_size, seed=0),
    )


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows EpochHistory wrote, as floats."""
    with path.open() as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


def short_run(family: str, epochs: int, folder: Path) -> tuple[dict, dict, list[dict[str, float]]]:
    """``(untrained, trained, history)``: the family's evaluation (into ``folder``) before and
    after its conf/model recipe (settings and tricks) trains on the digits for ``epochs``, and the
    history of that run."""
    data = prepared()
    settings, tricks = recipe(family)
    loaded, module = build(family, data, **settings)
    untrained = loaded.evaluate(module.eval(), data, folder)
    fit(module.train(), data, history=folder / "history.csv", tricks=tricks, max_epochs=epochs)
    trained = loaded.evaluate(module.eval(), data, folder)
    return untrained, trained, read_history(folder / "history.csv")
