"""The registry and small prepared data of the family tests, without Lightning (a process that
only scores or exports a model uses them too)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from pipeline.data.prepared import PreparedData, split_examples
from pipeline.data.types import Examples, Stream
from pipeline.params.validate import CORE_SCHEMA
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.plugin.schema import validate_section

REGISTRY = Registry(create_plugin_manager())


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


# Small data of each kind a family may read.
DATA_OF_KIND = {
    "features": ("digits", {}),
    "tokens": ("cond_strings", {"examples": 400}),
    "token_pairs": ("docstring_titles", {"examples": 300}),
}


def contract_data(name: str) -> PreparedData:
    """Small data of the kind family ``name`` reads."""
    dataset, settings = DATA_OF_KIND[REGISTRY.families[name].spec.reads[0]]
    return prepared(dataset, **settings)


def build_unseeded(family: str, data: PreparedData, **settings: Any):
    """``(family, module)``: a fresh module of ``family`` with its validated defaults overridden
    by ``settings``."""
    spec = REGISTRY.family(family)
    schema = {**CORE_SCHEMA["model"], **spec.settings}
    values = validate_section("model", {"family": family, **settings}, schema)
    loaded = spec.load()
    return loaded, loaded.build(values, data.info)
