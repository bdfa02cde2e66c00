"""Trick ``lazy_embedding``: rows that got no gradient in a step are not moved, not even by momentum or Adam.

For an embedding, the rows of tokens absent from the batch get an all-zero gradient; momentum and
Adam would still move them (their moments are non-zero). With this trick those rows keep their
values and their optimizer state, as in bert4keras' lazy optimization and TensorFlow's LazyAdam.
``patterns`` chooses the parameters (default: all of them, where the rule also spares units that
were inactive for the whole batch); a row is the slice along a parameter's first dimension.
"""
from __future__ import annotations

from pipeline import TrickSpec, hookimpl
from plugins.tricks.patterns import pattern_list

SETTINGS = {"patterns": pattern_list(["*"], "parameter-name patterns of the parameters updated lazily, e.g. ['*embed*']")}


def _load():
    from plugins.tricks.lazy_embedding_impl import LazyEmbedding

    return LazyEmbedding()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("lazy_embedding", "lazy updates: rows without gradient keep their values and optimizer state",
                      _load, SETTINGS, order=70)]
