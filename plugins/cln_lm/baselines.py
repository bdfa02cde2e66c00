"""Count models of the training text that a conditional language model is scored against.

Two ignore the label: add-one token frequencies (``unigram``) and an add-one bigram (the next token
from the previous one). Two read it, so the claim "the label steers the model" is made against
baselines that have the label too: a bigram per label (``label_bigram``), and the same told each
test string's length (``label_bigram_known_length``: the end mark comes exactly after the last
character and never before), which on fixed-length data such as ``cond_strings`` is the count
model's best, near the true chains' own perplexity.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline import EOS, PAD, PreparedData


def _pairs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous, next) token of every predicted position: next is not padding."""
    previous, following = rows[:, :-1].ravel(), rows[:, 1:].ravel()
    kept = following != PAD
    return previous[kept], following[kept]


def _bigram(rows: np.ndarray, vocab: int) -> np.ndarray:
    """Add-one-smoothed transition probabilities ``(vocab, vocab)`` counted over ``rows``."""
    previous, following = _pairs(rows)
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (previous, following), 1.0)
    return counts / counts.sum(1, keepdims=True)


def _perplexity(nll: np.ndarray) -> float:
    return math.exp(float(np.mean(nll)))


def unigram_perplexity(data: PreparedData) -> float:
    """Perplexity on the test split of add-one-smoothed token frequencies of the training split."""
    vocab = len(data.info.vocab)
    _, train = _pairs(data.train.x)
    _, test = _pairs(data.test.x)
    probs = (np.bincount(train, minlength=vocab) + 1.0) / (len(train) + vocab)
    return _perplexity(-np.log(probs[test]))


def bigram_perplexity(data: PreparedData) -> float:
    """Perplexity on the test split of an add-one bigram of the training split, label unseen."""
    probs = _bigram(data.train.x, len(data.info.vocab))
    previous, following = _pairs(data.test.x)
    return _perplexity(-np.log(probs[previous, following]))


def label_bigram_perplexity(data: PreparedData, known_length: bool = False) -> float:
    """Perplexity on the test split of one add-one bigram per label, each counted over the training
    rows of its label and scoring the test rows of that label. With ``known_length`` the model is
    also told where each string ends: the end mark has probability 1 right after its last token
    and 0 before, the other tokens share the rest in the bigram's proportions."""
    vocab, nll = len(data.info.vocab), []
    for label in np.unique(data.test.y):
        probs = _bigram(data.train.x[data.train.y == label], vocab)
        for row in data.test.x[data.test.y == label]:
            previous, following = _pairs(row[None])
            chosen = probs[previous, following]
            if known_length:
                ends = following == EOS
                chosen = np.where(ends, 1.0, chosen / (1.0 - probs[previous, EOS]))
            nll.append(-np.log(chosen))
    return _perplexity(np.concatenate(nll))
