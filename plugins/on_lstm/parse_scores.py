"""Score the trees induced from syntactic distances against gold trees, beside the trivial trees.

Metric names (sentence F1 is the mean of each sentence's F1; corpus F1 pools the spans first):

- ``parse_f1``, ``parse_corpus_f1``: the induced trees (``parse.top_down_tree`` of the distances);
- ``parse_f1_random``, ``parse_corpus_f1_random``: uniformly split random binary trees, the mean
  over ``RANDOM_DRAWS`` trees per sentence; ``parse_f1_random_low`` / ``parse_f1_random_high`` hold
  the central 95% of the sentence F1 a single draw over the corpus scores;
- ``parse_f1_balanced``, ``parse_corpus_f1_balanced``: trees split in the middle;
- ``parse_f1_right_branching``, ``parse_corpus_f1_right_branching``: right-branching trees;
- ``parse_f1_left_branching``, ``parse_corpus_f1_left_branching``: left-branching trees (the
  strong trivial tree of left-nested text such as Python's ``a.b(c)[d]``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from plugins.on_lstm.gold_trees import GoldTree
from plugins.on_lstm.parse import Span, top_down_tree
from plugins.on_lstm.span_f1 import corpus_f1, span_counts, span_f1
from plugins.on_lstm.trivial_trees import (
    balanced,
    left_branching,
    random_binary,
    right_branching,
)

RANDOM_DRAWS = 40
MIN_TOKENS = 3  # a shorter text has no non-trivial span to find


class ParsedText(NamedTuple):
    """One text's gold tree, its induced tree and its trivial trees, as spans over its tokens: its
    characters, or the tokens starting at ``starts`` when given."""

    text: str
    gold: list[Span]
    induced: list[Span]
    balanced: list[Span]
    right_branching: list[Span]
    starts: tuple[int, ...] = ()

    @property
    def tokens(self) -> list[str]:
        """The text's tokens (its characters when no ``starts``), spaces around them dropped."""
        if not self.starts:
            return list(self.text)
        ends = [*self.starts[1:], len(self.text)]
        return [self.text[a:b].strip() for a, b in zip(self.starts, ends, strict=True)]

    @property
    def size(self) -> int:
        """The number of tokens."""
        return len(self.starts) if self.starts else len(self.text)


def parse_texts(
    texts: Sequence[str], distances: np.ndarray, gold_of: Callable[[str], GoldTree]
) -> list[ParsedText]:
    """Each text of ``MIN_TOKENS`` tokens or more with its trees over the tokens ``gold_of`` gives;
    row ``k`` of ``distances`` is text ``k``'s, position 0 holding the ``BOS`` step, and a token's
    distance is the one of the step reading its first character."""
    parsed = []
    for text, d in zip(texts, distances, strict=True):
        starts, gold = gold_of(text)
        n = len(starts)
        if n >= MIN_TOKENS:
            induced = top_down_tree(d[1:][starts])
            every = starts == list(range(len(text)))
            kept = () if every else tuple(starts)
            parsed.append(ParsedText(text, gold, induced, balanced(n), right_branching(n), kept))
    return parsed


def tree_scores(parsed: Sequence[ParsedText], trees: Sequence[list[Span]]) -> tuple[float, float]:
    """Sentence F1 and corpus F1 of ``trees`` (one per parsed text) against the gold."""
    counts = [span_counts(t, p.gold, p.size) for p, t in zip(parsed, trees, strict=True)]
    sentence = [span_f1(t, p.gold, p.size) for p, t in zip(parsed, trees, strict=True)]
    return float(np.mean(sentence)) if sentence else 0.0, corpus_f1(counts)


def parse_metrics(parsed: Sequence[ParsedText], seed: int = 0) -> dict[str, float]:
    """The induced trees' sentence and corpus F1 beside the trivial trees' (names in the module
    docstring); the random trees are drawn from ``seed``."""
    metrics = {}
    for suffix, field in (
        ("", "induced"),
        ("_balanced", "balanced"),
        ("_right_branching", "right_branching"),
    ):
        sentence, corpus = tree_scores(parsed, [getattr(p, field) for p in parsed])
        metrics |= {f"parse_f1{suffix}": sentence, f"parse_corpus_f1{suffix}": corpus}
    sentence, corpus = tree_scores(parsed, [left_branching(p.size) for p in parsed])
    metrics |= {"parse_f1_left_branching": sentence, "parse_corpus_f1_left_branching": corpus}
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            tree_scores(parsed, [random_binary(p.size, rng) for p in parsed])
            for _ in range(RANDOM_DRAWS)
        ]
    )
    low, high = np.percentile(draws[:, 0], [2.5, 97.5])
    metrics |= {
        "parse_f1_random": float(draws[:, 0].mean()),
        "parse_f1_random_low": float(low),
        "parse_f1_random_high": float(high),
        "parse_corpus_f1_random": float(draws[:, 1].mean()),
    }
    return metrics
