"""The trivial trees an induced tree must beat: right- and left-branching, balanced and random
binary trees, each as its sorted spans ``(start, end)`` (end exclusive, two tokens or more) over
``n`` tokens."""

from __future__ import annotations

import numpy as np

from plugins.on_lstm.parse import Span


def split_tree(n: int, split) -> list[Span]:
    """The binary tree made by cutting each span ``(start, end)`` of two tokens or more at
    ``split(start, end)``, a position strictly inside it."""
    spans, todo = [], [(0, n)]
    while todo:
        start, end = todo.pop()
        if end - start < 2:
            continue
        spans.append((start, end))
        middle = split(start, end)
        todo += [(start, middle), (middle, end)]
    return sorted(spans)


def right_branching(n: int) -> list[Span]:
    """Every cut right after a span's first token: ``(0, n), (1, n), …, (n - 2, n)``."""
    return split_tree(n, lambda start, end: start + 1)


def left_branching(n: int) -> list[Span]:
    """Every cut right before a span's last token: ``(0, n), (0, n - 1), …, (0, 2)``."""
    return split_tree(n, lambda start, end: end - 1)


def balanced(n: int) -> list[Span]:
    """Every span cut in its middle (the left half the smaller one when the length is odd)."""
    return split_tree(n, lambda start, end: (start + end) // 2)


def random_binary(n: int, rng: np.random.Generator) -> list[Span]:
    """Every span cut at a position drawn uniformly inside it: the top-down split of independent
    random distances."""
    return split_tree(n, lambda start, end: int(rng.integers(start + 1, end)))
