"""Shared pieces of the family tests (no tests here): prepared data, families built through the real
registry, and a Lightning fit wired the way the train stage wires the core's optimization and tricks."""
from __future__ import annotations

import csv
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import lightning.pytorch as pl
import pytest
import torch

from pipeline import optimization
from pipeline.config import CORE_SCHEMA, validate_tricks
from pipeline.data import PreparedData, split_arrays
from pipeline.datamodule import ArrayDataModule
from pipeline.history import EpochHistory
from pipeline.registry import Registry, create_plugin_manager
from pipeline.settings import validate_section

REGISTRY = Registry(create_plugin_manager())
ADAM = {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


@lru_cache(maxsize=None)
def prepared(dataset: str = "digits", **settings: Any) -> PreparedData:
    """The dataset split exactly as the prepare stage splits it (seed 0, default fractions)."""
    spec = REGISTRY.dataset(dataset)
    values = validate_section("data", {"name": dataset, **settings}, {**CORE_SCHEMA["data"], **spec.settings})
    x, y = spec.load(values)
    return split_arrays(x, y, values["val_fraction"], values["test_fraction"], 0, dataset)


def build(family: str, data: PreparedData, seed: int = 0, **settings: Any):
    """A fresh module of ``family`` with its validated defaults overridden by ``settings``."""
    spec = REGISTRY.family(family)
    values = validate_section("model", {"family": family, **settings}, {**CORE_SCHEMA["model"], **spec.settings})
    pl.seed_everything(seed, verbose=False)
    return spec.load(), spec.load().build(values, data.info)


def fit(module, data: PreparedData, history: Path | None = None, tricks: Mapping[str, Any] | None = None,
        optimizer: Mapping[str, Any] = ADAM, batch_size: int = 64, **trainer_args: Any) -> pl.Trainer:
    """Train through Lightning with the core's optimizer (and ``tricks``), as the train stage does."""
    active = optimization.load_tricks([(REGISTRY.trick(n), s) for n, s in validate_tricks(tricks or {}, REGISTRY).items()])
    optimization.attach(module, optimizer, active)
    callbacks = [*optimization.callbacks(active), *([EpochHistory(history)] if history else [])]
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
                         enable_checkpointing=False, num_sanity_val_steps=0, deterministic=True, callbacks=callbacks,
                         **optimization.trainer_kwargs(active), **trainer_args)
    trainer.fit(module, datamodule=ArrayDataModule(data, batch_size, seed=0))
    return trainer


def read_history(path: Path) -> list[dict[str, float]]:
    """The rows EpochHistory wrote, as floats."""
    with path.open() as handle:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(handle)]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Run torch on one thread: tiny models on a shared, loaded machine train many times faster so."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
