"""What a conditional language model is scored against: a referee that reads the label of a text,
and count-based unigram and bigram models of the training text.

The referee is a logistic regression on bags of character unigrams and bigrams, trained on the
real training texts and their labels, so "generated text follows the condition" means "a classifier
that never saw the generator reads the requested label in it". The bigram model is the
unconditional baseline: it predicts the next character from the previous one alone, never the label.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline import PAD, PreparedData, Vocab


class Referee:
    """Bag-of-character-bigrams logistic regression trained on the training split's texts."""

    def __init__(self, data: PreparedData):
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.vocab = Vocab(data.info.vocab)
        self.model = make_pipeline(
            CountVectorizer(analyzer="char", ngram_range=(1, 2), lowercase=False),
            LogisticRegression(max_iter=2000),
        )
        self.model.fit(self.texts(data.train.x), data.train.y)
        self.accuracy = self.score(data.test.x, data.test.y)

    def texts(self, rows: np.ndarray) -> list[str]:
        """The decoded text of each row of token ids."""
        return [self.vocab.decode(row) for row in rows]

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """The label the referee reads in each row of token ids."""
        return self.model.predict(self.texts(rows))

    def score(self, rows: np.ndarray, labels: np.ndarray) -> float:
        """Share of rows read as their label."""
        return float((self.predict(rows) == np.asarray(labels)).mean())


def _pairs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(previous, next) token of every predicted position: next is not padding."""
    previous, following = rows[:, :-1].ravel(), rows[:, 1:].ravel()
    kept = following != PAD
    return previous[kept], following[kept]


def unigram_perplexity(data: PreparedData) -> float:
    """Perplexity on the test split of add-one-smoothed token frequencies of the training split."""
    vocab = len(data.info.vocab)
    _, train = _pairs(data.train.x)
    _, test = _pairs(data.test.x)
    probs = (np.bincount(train, minlength=vocab) + 1.0) / (len(train) + vocab)
    return math.exp(-np.log(probs[test]).mean())


def bigram_perplexity(data: PreparedData) -> float:
    """Perplexity on the test split of an add-one-smoothed bigram model of the training split:
    the next token from the previous one, label unseen."""
    vocab = len(data.info.vocab)
    previous, following = _pairs(data.train.x)
    counts = np.ones((vocab, vocab))
    np.add.at(counts, (previous, following), 1.0)
    probs = counts / counts.sum(1, keepdims=True)
    previous, following = _pairs(data.test.x)
    return math.exp(-np.log(probs[previous, following]).mean())
