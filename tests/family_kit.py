"""Shared pieces of the family tests (no tests here): prepared data, families built through the real
registry, and a fit through ``build_training``, the train stage's own wiring."""

from __future__ import annotations

import csv
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import lightning.pytorch as pl
import numpy as np

from pipeline.config import CORE_SCHEMA
from pipeline.data import Examples, PreparedData, Stream, split_examples
from pipeline.datamodule import PreparedDataModule
from pipeline.history import EpochHistory
from pipeline.registry import Registry, create_plugin_manager
from pipeline.settings import validate_section
from pipeline.training import TEST_TRAINER, build_training

REGISTRY = Registry(create_plugin_manager())
CONF = Path(__file__).resolve().parents[1] / "conf"
ADAM = {"name": "adam", "lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0}
logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)


@lru_cache(maxsize=None)
def prepared(dataset: str = "digits", **settings: Any) -> PreparedData:
    """The dataset split in memory as the prepare stage splits a dataset that loads arrays (seed 0,
    default fractions). A streamed dataset's examples are gathered into arrays and split the same
    way, so a family's tests keep their data in memory; ``tests.stream_kit.prepare_in`` writes
    the shards the prepare stage writes for it. A list setting is given as a tuple (the arguments
    are the cache's key)."""
    spec = REGISTRY.dataset(dataset)
    schema = {**CORE_SCHEMA["data"], **spec.settings}
    listed = {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
    values = validate_section("data", {"name": dataset, **listed}, schema)
    loaded = spec.load(values) if spec.load else gathered(spec.stream(values))
    return split_examples(loaded, values["val_fraction"], values["test_fraction"], 0, dataset)


def gathered(stream: Stream) -> Examples:
    """Every example of ``stream`` as arrays, in the order it yields them."""
    examples = list(stream.examples)
    x, y = (np.stack([example[i] for example in examples]) for i in (1, 2))
    return Examples(x, y, stream.vocab, stream.labels, stream.fingerprint)


def build(family: str, data: PreparedData, seed: int = 0, **settings: Any):
    """A fresh module of ``family`` with its validated defaults overridden by ``settings``."""
    spec = REGISTRY.family(family)
    schema = {**CORE_SCHEMA["model"], **spec.settings}
    values = validate_section("model", {"family": family, **settings}, schema)
    pl.seed_everything(seed, verbose=False)
    family = spec.load()
    return family, family.build(values, data.info)


def recipe(family: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model settings and tricks ``dvc exp run -S model=<family>`` composes from conf/."""
    from pipeline.hydra_conf import compose_params

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
