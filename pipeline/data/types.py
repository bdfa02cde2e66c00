"""The plain data types: what a dataset plugin returns and what the stages hand each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from pipeline.errors import PipelineError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class DataInfo:
    """What a family needs to know about its input to build a model.

    ``vocab`` is set when ``x`` holds token ids (a :class:`pipeline.data.vocab.Vocab`'s symbols, id
    →
    symbol); ``labels`` names the classes when the dataset has names for them; ``fingerprint``
    identifies the source data (e.g. a corpus read from the interpreter's own files).
    ``train_examples`` counts the rows of the in-memory training split, which a model keeping a
    parameter per training example sizes its table by; 0 for data streamed from shards.
    """

    input_shape: tuple[int, ...]
    num_classes: int
    dataset: str
    vocab: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    fingerprint: str = ""
    train_examples: int = 0

    def examples_to_keep(self, keeper: str) -> int:
        """``train_examples``, for ``keeper`` (e.g. "family glann keeps a code per training
        example"); a clear error where the data gives none (streamed, or prepared before the count
        was recorded)."""
        if self.train_examples < 1:
            raise PipelineError(
                f"{keeper}, but the prepared data of {self.dataset} gives no in-memory training "
                "split size; rerun the prepare stage on a dataset that loads into memory."
            )
        return self.train_examples


@dataclass(frozen=True)
class Examples:
    """What a dataset's ``load`` returns when plain ``(x, y)`` arrays say too little.

    ``x`` is float32 features or int64 token ids (then ``vocab`` is set); ``y`` is int64 labels,
    one per row, or int64 token ids of a target sequence (shape ``(rows, length)``, e.g. a title
    for an article). ``labels`` names the label ids; ``fingerprint`` identifies the source.
    """

    x: np.ndarray
    y: np.ndarray
    vocab: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    fingerprint: str = ""


@dataclass(frozen=True)
class Stream:
    """What a dataset's ``stream`` returns: its examples one at a time, for data bigger than
    memory.

    ``examples`` yields ``(example_id, x, y)`` once, in any order: ``example_id`` is a string unique
    in the dataset (a file path, a line number), which with the seed alone decides the example's
    split; ``x`` is one row (float features or, with ``vocab``, int64 token ids), ``y`` one int
    label or a target sequence. Every ``x`` has the same shape, and so has every ``y``. The
    prepare stage writes them into shards (:mod:`pipeline.data.shards`) holding one block per shard
    in memory.

    ``fixed_split`` keeps a split the source defines itself (MNIST's ``t10k-*`` files as the test
    split): given an example's id, it returns the split the example must go to (``"train"``,
    ``"val"`` or ``"test"``), or None to draw it from the hash. When it is set, the drawn examples
    go to train and val only (by ``data.val_fraction``; ``data.test_fraction`` is not used), so
    the test split is exactly the examples it names ``"test"``.
    """

    examples: Iterable[tuple[str, Any, Any]]
    vocab: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    fingerprint: str = ""
    fixed_split: Callable[[str], str | None] | None = None


@dataclass(frozen=True)
class Split:
    """Features and labels of one split."""

    x: np.ndarray
    y: np.ndarray
