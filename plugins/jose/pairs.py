"""JoSE's training triples from a batch of documents: (document, center word, context word,
negative word), as the reference builds them.

A row is ``[BOS, w1, …, EOS, PAD…]``; ids below ``len(SPECIALS)`` (padding, markers, unknown words)
are no words and are dropped first, as the reference drops out-of-vocabulary words, so the words on
either side of one count as neighbours. Frequent words are subsampled (word2vec's rule, the
reference's ``-sample``): a word making up a share f of the corpus is kept with probability
min(1, (√(f/t) + 1)·t/f). Each center word takes the context words within a window shrunk at random
to 1…``window`` (nearer words are drawn more often), and each (center, context) pair ``negatives``
negative words drawn from the unigram distribution raised to ¾; a negative equal to its center
word is dropped (its hinge is the constant m, without gradient).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pipeline import FIRST_WORD


@dataclass(frozen=True)
class Triples:
    """Parallel 1-D tensors, one entry per triple: ``row`` (the document's row in the batch),
    ``center``, ``context`` and ``negative`` word ids."""

    row: torch.Tensor
    center: torch.Tensor
    context: torch.Tensor
    negative: torch.Tensor


def keep_probability(counts: np.ndarray, threshold: float) -> np.ndarray:
    """word2vec's subsampling: the chance each word is kept, min(1, (√(f/t) + 1)·t/f) for a share f
    of the words and threshold t; every word is kept when t is 0."""
    share = counts / max(counts.sum(), 1.0)
    if threshold <= 0:
        return np.ones_like(share)
    with np.errstate(divide="ignore"):
        kept = (np.sqrt(share / threshold) + 1) * threshold / share
    return np.minimum(np.nan_to_num(kept, nan=1.0, posinf=1.0), 1.0)


def negative_weights(counts: np.ndarray, power: float = 0.75) -> np.ndarray:
    """The negative-sampling distribution: counts raised to ``power``, normalised (0 for reserved
    ids and unseen words)."""
    weights = counts**power
    return weights / weights.sum()


def context_pairs(
    rows: torch.Tensor, window: int, keep: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(row, center, context)`` for every center word of ``rows`` and every context word within
    its randomly shrunk window, after dropping reserved ids and subsampling with the per-id keep
    probabilities ``keep`` (none dropped when None)."""
    kept = rows >= FIRST_WORD
    if keep is not None:
        kept &= torch.rand(rows.shape, device=rows.device) < keep[rows]
    # Kept words first, in their order: a stable sort on "dropped".
    order = torch.argsort((~kept).to(torch.int8), dim=1, stable=True)
    words, count = rows.gather(1, order), kept.sum(1, keepdim=True)
    position = torch.arange(rows.shape[1], device=rows.device).expand_as(rows)
    reach = torch.randint(1, window + 1, rows.shape, device=rows.device)
    found = []
    for offset in (*range(-window, 0), *range(1, window + 1)):
        other = position + offset
        valid = (position < count) & (other >= 0) & (other < count) & (reach >= abs(offset))
        row, at = valid.nonzero(as_tuple=True)
        found.append((row, words[row, at], words[row, at + offset]))
    row, center, context = (torch.cat(parts) for parts in zip(*found, strict=True))
    return row, center, context


def triples(
    rows: torch.Tensor,
    window: int,
    negatives: int,
    weights: torch.Tensor,
    keep: torch.Tensor | None = None,
) -> Triples:
    """Every training triple of a batch of documents: its context pairs, each with ``negatives``
    words drawn from ``weights``."""
    row, center, context = context_pairs(rows, window, keep)
    if not len(row):  # no document of the batch holds two words
        drawn = row
    else:
        drawn = torch.multinomial(weights, len(row) * negatives, replacement=True)
    row, center, context = (t.repeat_interleave(negatives) for t in (row, center, context))
    differ = drawn != center
    return Triples(row[differ], center[differ], context[differ], drawn[differ])
