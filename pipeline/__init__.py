"""A plugin-based experiment pipeline: the public face a plugin author imports from.

Everything a model family, dataset, trick or optimizer needs comes from this one module::

    from pipeline import EpochPartsModule, Family, FamilySpec, Setting, hookimpl

The light names (markers, spec types, settings, the error type) load with the package; the heavy
ones (torch modules, numpy-backed data types, pictures) load on first use through a module-level
``__getattr__``, as pluggy does, so ``pipeline --help``, ``pipeline plugins`` and params validation
import no numerical library. The core's own modules import from their subpackages, never from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pipeline.errors import PipelineError
from pipeline.plugin.hookspecs import (
    Chance,
    DatasetSpec,
    Family,
    FamilySpec,
    OptimizerSpec,
    Trick,
    TrickSpec,
)
from pipeline.plugin.markers import hookimpl
from pipeline.plugin.schema import Setting

if TYPE_CHECKING:
    from pipeline.data.prepared import PreparedData
    from pipeline.data.types import DataInfo, Examples, Split, Stream
    from pipeline.data.vocab import BOS, EOS, FIRST_WORD, PAD, SPECIALS, UNK, Vocab, word_counts
    from pipeline.plots import (
        pyplot,
        save_confusion,
        save_histograms,
        save_image_grid,
        save_scatter,
    )
    from pipeline.plugin.registry import Registry, create_plugin_manager
    from pipeline.training.builder import TEST_TRAINER, Training, build_training
    from pipeline.training.module import EpochPartsModule, ModelModule

# Heavy names: where each lives, imported when first asked for.
_LAZY = {
    # the data a dataset returns and a family receives
    "DataInfo": "pipeline.data.types",
    "Examples": "pipeline.data.types",
    "Split": "pipeline.data.types",
    "Stream": "pipeline.data.types",
    "PreparedData": "pipeline.data.prepared",
    # vocabularies of text datasets and sequence families, and their special token ids
    "Vocab": "pipeline.data.vocab",
    "word_counts": "pipeline.data.vocab",
    "SPECIALS": "pipeline.data.vocab",
    "PAD": "pipeline.data.vocab",
    "BOS": "pipeline.data.vocab",
    "EOS": "pipeline.data.vocab",
    "UNK": "pipeline.data.vocab",
    "FIRST_WORD": "pipeline.data.vocab",
    # the base classes of a family's module
    "ModelModule": "pipeline.training.module",
    "EpochPartsModule": "pipeline.training.module",
    # pictures and plot data a family writes in evaluate
    "pyplot": "pipeline.plots",
    "save_confusion": "pipeline.plots",
    "save_histograms": "pipeline.plots",
    "save_image_grid": "pipeline.plots",
    "save_scatter": "pipeline.plots",
    # testing a plugin with the exact wiring the train stage uses
    "Registry": "pipeline.plugin.registry",
    "create_plugin_manager": "pipeline.plugin.registry",
    "Training": "pipeline.training.builder",
    "TEST_TRAINER": "pipeline.training.builder",
    "build_training": "pipeline.training.builder",
}

__all__ = [
    "BOS",
    "build_training",
    "Chance",
    "create_plugin_manager",
    "DataInfo",
    "DatasetSpec",
    "EOS",
    "EpochPartsModule",
    "Examples",
    "Family",
    "FamilySpec",
    "FIRST_WORD",
    "hookimpl",
    "ModelModule",
    "OptimizerSpec",
    "PAD",
    "PipelineError",
    "PreparedData",
    "pyplot",
    "Registry",
    "save_confusion",
    "save_histograms",
    "save_image_grid",
    "save_scatter",
    "Setting",
    "SPECIALS",
    "Split",
    "Stream",
    "TEST_TRAINER",
    "Training",
    "Trick",
    "TrickSpec",
    "UNK",
    "Vocab",
    "word_counts",
]


def __getattr__(name: str) -> Any:
    """Import a heavy public name from the module that defines it, the first time it is used."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
