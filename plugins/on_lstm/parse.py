"""Trees from syntactic distances, as "Ordered Neurons" (Shen et al., 2019) builds them.

The ON-LSTM reads token ``k`` with a master forget gate whose expected level gives the distance
``d[k]``: how much of the ordered memory token ``k`` erases, so a large ``d[k]`` opens a new
constituent at token ``k``. The paper's greedy top-down split (``build_tree`` in its
``test_phrase_grammar.py``) takes the token of largest distance (the first on ties), closes
everything before it as the left child, and makes the token the left leaf of the right child,
whose remaining tokens are split the same way.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

Span = tuple[int, int]


def top_down_tree(distances: Sequence[float]) -> list[Span]:
    """Every span ``(start, end)`` (end exclusive, two tokens or more) of the paper's binary tree
    over ``len(distances)`` tokens, sorted."""
    d = np.asarray(distances, dtype=float)
    spans, todo = [], [(0, len(d))]
    while todo:
        start, end = todo.pop()
        if end - start < 2:
            continue
        spans.append((start, end))
        top = start + int(np.argmax(d[start:end]))
        if top > start:
            todo.append((start, top))  # the left child: everything before the top token
            if end - top >= 2:
                spans.append((top, end))  # the right child: the top token and what follows it
        todo.append((top + 1, end))
    return sorted(spans)


def bracketed(text: str | Sequence[str], spans: Iterable[Span]) -> str:
    """``text`` (its characters, or a list of tokens) with ⟨ ⟩ around each span and spaces between
    tokens (a space shows as ␣), so bracket characters in the text stay readable."""
    opens, closes = [0] * len(text), [0] * len(text)
    for start, end in spans:
        opens[start] += 1
        closes[end - 1] += 1
    shown = [token.replace(" ", "␣") for token in text]
    return " ".join("⟨" * opens[k] + shown[k] + "⟩" * closes[k] for k in range(len(text)))
