"""Windows cut from rows of token ids, and bags of words: the sparse 2·V inputs of the fly network.

A window is a target word with the words around it: its input is the bag of the context words (the
first V entries) and the one-hot of the target (the last V). Only words count: ``PAD``, ``BOS``,
``EOS`` and ``UNK`` (every word rarer than the vocabulary's cut at once, so a meaningless hub) are
never a target nor context. A window is held sparsely, as the input ids of its non-zero entries (a
context word seen twice is listed twice, so its entry is 2), padded with :data:`NONE`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline import FIRST_WORD

NONE = -1  # an empty slot of a sparse input


def is_word(tokens: torch.Tensor) -> torch.Tensor:
    """True where a token id is a word."""
    return tokens >= FIRST_WORD


def windows(rows: torch.Tensor, context: int, vocab: int) -> torch.Tensor:
    """The windows of every word of ``rows`` (batch, length), as input ids (windows, 2·context + 1):
    the ids of the words up to ``context`` positions on either side (blanks beyond the row or on a
    non-word are :data:`NONE`), then the target's id shifted by ``vocab`` (its one-hot half)."""
    words = torch.where(is_word(rows), rows, NONE)
    padded = F.pad(words, (context, context), value=NONE)
    length = rows.shape[1]
    around = [padded[:, context + shift : context + shift + length] for shift in range(-context, 0)]
    around += [
        padded[:, context + shift : context + shift + length] for shift in range(1, context + 1)
    ]
    ids = torch.stack([*around, words + vocab], dim=-1)  # (batch, length, 2·context + 1)
    return ids[is_word(rows)]


def bag_inputs(rows: torch.Tensor, vocab: int) -> torch.Tensor:
    """Each row's words as one sparse input: the bag of its words in the context half and again in
    the target half, as if the whole document were one window around all of its words."""
    words = torch.where(is_word(rows), rows, NONE)
    return torch.cat([words, torch.where(words == NONE, NONE, words + vocab)], dim=1)


def dense(ids: torch.Tensor, size: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sparse inputs (n, slots) as dense rows (n, size): each listed id adds its weight (1 unless
    ``weights``, a value per input id, is given)."""
    out = torch.zeros(len(ids), size + 1, dtype=torch.float32)
    slot = torch.where(ids == NONE, size, ids)
    values = torch.ones_like(slot, dtype=torch.float32)
    if weights is not None:
        values = torch.cat([weights, weights.new_zeros(1)])[slot]
    out.scatter_add_(1, slot, values)
    return out[:, :size]
