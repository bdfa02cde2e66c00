"""Unlabeled span F1 of trees against gold trees, per sentence and over a corpus.

A span is *trivial* when it is one token or the whole sentence; trees are scored on their
non-trivial spans only, as in "Ordered Neurons". Sentence F1 averages each sentence's F1 (an empty
set of spans scores full precision, or recall); corpus F1 pools the hits and counts of all
sentences first, so long sentences weigh more.
"""

from __future__ import annotations

from typing import Iterable, NamedTuple

from plugins.on_lstm.parse import Span


class SpanCounts(NamedTuple):
    """One sentence's (or a corpus's) matched, induced and gold non-trivial spans."""

    hits: int
    found: int
    wanted: int


def nontrivial(spans: Iterable[Span], n: int) -> set[Span]:
    """The spans longer than one token that are not the whole sequence of ``n`` tokens."""
    return {(a, b) for a, b in spans if b - a > 1 and (a, b) != (0, n)}


def span_counts(induced: Iterable[Span], gold: Iterable[Span], n: int) -> SpanCounts:
    """The non-trivial spans of a sentence of ``n`` tokens: matched, induced, gold."""
    found, wanted = nontrivial(induced, n), nontrivial(gold, n)
    return SpanCounts(len(found & wanted), len(found), len(wanted))


def f1_of(counts: SpanCounts) -> float:
    """F1 of ``counts``; with nothing induced precision is 1, with nothing wanted recall is 1."""
    precision = counts.hits / counts.found if counts.found else 1.0
    recall = counts.hits / counts.wanted if counts.wanted else 1.0
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def span_f1(induced: Iterable[Span], gold: Iterable[Span], n: int) -> float:
    """Unlabeled F1 of one sentence's non-trivial spans."""
    return f1_of(span_counts(induced, gold, n))


def corpus_f1(counts: Iterable[SpanCounts]) -> float:
    """F1 of the spans of all sentences pooled."""
    rows = list(counts)
    pooled = SpanCounts(*(sum(row[k] for row in rows) for k in range(3)))
    return f1_of(pooled) if rows else 0.0
