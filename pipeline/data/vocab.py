"""Vocabularies of characters or words: text to padded token ids and back, for the sequence and
text datasets and families. A text is a string, whose characters are its tokens, or a list of words.

Ids 0–3 are reserved in every vocabulary: ``PAD`` fills a row after its text, ``BOS`` and ``EOS``
open and close a sequence, ``UNK`` stands for a character the vocabulary does not hold. A row of
token ids is ``[BOS, c1, c2, …, EOS, PAD, …]``; a text longer than the row is cut (its ``EOS``
then falls away, which tells a truncated row from a complete one). The vocabulary is stored in the
prepared data's ``info.json`` (``DataInfo.vocab``), so every stage decodes exactly what prepare
encoded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Sequence

import numpy as np

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
FIRST_WORD = len(SPECIALS)  # the first id of a real token: ids below are PAD, BOS, EOS and UNK


@dataclass(frozen=True)
class Vocab:
    """Token id → symbol; ids below ``len(SPECIALS)`` are the reserved ones."""

    symbols: tuple[str, ...]

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> "Vocab":
        """Every token (character, or word of texts given as word lists) seen at least ``min_count``
        times, most frequent first (ties in symbol order), after the reserved symbols; rarer ones
        will encode as ``UNK``."""
        counts = Counter(char for text in texts for char in text)
        kept = sorted(
            (c for c, n in counts.items() if n >= min_count), key=lambda c: (-counts[c], c)
        )
        return cls(SPECIALS + tuple(kept))

    def __len__(self) -> int:
        return len(self.symbols)

    def ids(self, text: str | Sequence[str]) -> list[int]:
        """The ids of ``text``'s tokens, without ``BOS``/``EOS``."""
        index = self._index
        return [index.get(char, UNK) for char in text]

    def encode(self, texts: Sequence[str | Sequence[str]], length: int) -> np.ndarray:
        """An int64 array of shape ``(len(texts), length)``: each row ``BOS text EOS`` padded with
        ``PAD``, cut at ``length``."""
        rows = np.full((len(texts), length), PAD, dtype=np.int64)
        for row, text in zip(rows, texts, strict=True):
            ids = [BOS, *self.ids(text), EOS][:length]
            row[: len(ids)] = ids
        return rows

    def decode(self, ids: Iterable[int], separator: str = "") -> str:
        """The text of one row of ids: from after a leading ``BOS`` up to the first ``EOS`` or
        ``PAD``, tokens joined by ``separator`` (a space for words); ``UNK`` reads as ``�``."""
        chars = []
        for position, token in enumerate(int(t) for t in ids):
            if token == BOS and position == 0:
                continue
            if token in (EOS, PAD):
                break
            chars.append("\ufffd" if token == UNK or token >= len(self) else self.symbols[token])
        return separator.join(chars)

    @cached_property
    def _index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols) if i >= len(SPECIALS)}


def word_counts(rows: np.ndarray, vocab_size: int) -> np.ndarray:
    """How often each id occurs among the tokens of ``rows`` (float64, 0 for the reserved ids)."""
    counts = np.bincount(np.asarray(rows).ravel(), minlength=vocab_size).astype(np.float64)
    counts[:FIRST_WORD] = 0
    return counts


def lengths(rows: np.ndarray) -> np.ndarray:
    """The number of non-``PAD`` tokens of each row."""
    return (np.asarray(rows) != PAD).sum(axis=-1)
