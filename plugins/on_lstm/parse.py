"""Unsupervised parsing from syntactic distances, and unlabeled span F1 against gold trees.

A distance ``d[k]`` belongs to the boundary before token ``k``. A sequence is split top-down at its
largest interior distance (the first on ties) until single tokens remain, as "Ordered Neurons"
builds its trees. A span is *trivial* when it is one token or the whole sequence; both the induced
and the gold trees are scored on their non-trivial spans only.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

Span = tuple[int, int]


def distance_tree(distances: Sequence[float]) -> list[Span]:
    """Every span ``(start, end)`` (end exclusive, two tokens or more) of the binary tree made by
    splitting at the largest distance."""
    d = np.asarray(distances, dtype=float)
    spans, todo = [], [(0, len(d))]
    while todo:
        start, end = todo.pop()
        if end - start < 2:
            continue
        spans.append((start, end))
        split = start + 1 + int(np.argmax(d[start + 1 : end]))
        todo += [(start, split), (split, end)]
    return sorted(spans)


def right_branching(n: int) -> list[Span]:
    """The right-branching tree over ``n`` tokens: every split right after the first token."""
    return distance_tree(-np.arange(n, dtype=float))


def nontrivial(spans: Iterable[Span], n: int) -> set[Span]:
    """The spans longer than one token that are not the whole sequence of ``n`` tokens."""
    return {(a, b) for a, b in spans if b - a > 1 and (a, b) != (0, n)}


def span_f1(induced: Iterable[Span], gold: Iterable[Span], n: int) -> float:
    """Unlabeled F1 of one sentence's non-trivial spans; an empty set scores full precision (or
    recall), as in "Ordered Neurons"."""
    found, wanted = nontrivial(induced, n), nontrivial(gold, n)
    hits = len(found & wanted)
    precision = hits / len(found) if found else 1.0
    recall = hits / len(wanted) if wanted else 1.0
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def bracketed(text: str, spans: Iterable[Span]) -> str:
    """``text`` with ⟨ ⟩ around each span and spaces between tokens (a space shows as ␣), so
    bracket characters in the text stay readable."""
    opens, closes = [0] * len(text), [0] * len(text)
    for start, end in spans:
        opens[start] += 1
        closes[end - 1] += 1
    shown = text.replace(" ", "␣")
    return " ".join("⟨" * opens[k] + shown[k] + "⟩" * closes[k] for k in range(len(text)))
