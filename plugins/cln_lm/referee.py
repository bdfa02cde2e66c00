"""The referee that reads the label of a text a conditional language model generated.

The referee is a logistic regression on bags of character unigrams and bigrams, trained on the
real training texts and their labels, so "generated text follows the condition" means "a classifier
that never saw the generator reads the requested label in it".
"""

from __future__ import annotations

import numpy as np

from pipeline import PreparedData, Vocab


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
