"""How well document and word vectors keep a corpus's topics apart, against a bag of words.

On the test documents (never trained on): ``cosine_gap``, the mean cosine between two documents of
the same module minus that between documents of different modules (> 0 when modules cluster), and
``retrieval_p10``, the share of each document's 10 nearest test documents that come from its
module. The baseline ranks the same documents by the cosine of their tf-idf vectors
(scikit-learn's ``TfidfVectorizer`` on the same word ids, idf fitted on the training documents):
``bow_retrieval_p10`` and ``bow_cosine_gap``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pipeline import FIRST_WORD, save_scatter, word_counts
from plugins.text.retrieval import cosine_gap, cosines, precision_at

SHOWN_NEIGHBOURS = 8  # nearest words written beside each chosen word


def tfidf_cosines(train_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosines of the tf-idf vectors of ``rows``' words, idf from ``train_rows``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    def words(row):
        return [str(t) for t in row if t >= FIRST_WORD]

    vectorizer = TfidfVectorizer(analyzer=words).fit(list(train_rows))
    matrix = vectorizer.transform(list(rows))  # rows are l2-normalised
    return (matrix @ matrix.T).toarray()


def characteristic_words(rows: np.ndarray, labels: np.ndarray, vocab_size: int) -> list[int]:
    """One word per class: the most frequent in its documents, weighted by log(classes ÷ classes
    using it), so a word that every module uses ("the") is never chosen."""
    classes = np.unique(labels)
    counts = np.stack([word_counts(rows[labels == c], vocab_size) for c in classes])
    spread = np.log(len(classes) / np.maximum((counts > 0).sum(0), 1))
    chosen = []
    for row in counts * spread:
        row[chosen] = -1  # a word stands for one class only
        chosen.append(int(np.argmax(row)))
    return chosen


def write_neighbours(words: np.ndarray, chosen: list[int], vocab: tuple[str, ...], path: Path):
    """For each chosen word, its nearest words by the cosine of their vectors u."""
    similarity = cosines(words)
    similarity[:, :FIRST_WORD] = -np.inf
    lines = []
    for word in chosen:
        similarity[word, word] = -np.inf
        nearest = np.argsort(-similarity[word], kind="stable")[:SHOWN_NEIGHBOURS]
        shown = ", ".join(f"{vocab[n]} {similarity[word, n]:.2f}" for n in nearest)
        lines.append(f"{vocab[word]}: {shown}")
    path.write_text("\n".join(lines) + "\n")


def embedding_report(encoder: torch.nn.Module, data, out_dir: Path) -> dict[str, float]:
    """Retrieval metrics of ``encoder``'s test-document vectors beside tf-idf's, the nearest words
    of each module's characteristic word (``neighbours.txt``) and a PCA scatter of the test
    documents by module (``documents.png``)."""
    rows, labels, info = data.test.x, data.test.y, data.info
    vectors = encoder(torch.from_numpy(rows)).numpy()
    similarity, bow = cosines(vectors), tfidf_cosines(data.train.x, rows)
    words = encoder.words.detach().numpy()
    chosen = characteristic_words(data.train.x, data.train.y, len(words))
    write_neighbours(words, chosen, info.vocab, out_dir / "neighbours.txt")
    save_documents(vectors, labels, list(info.labels) or None, out_dir / "documents.png")
    return {
        "cosine_gap": cosine_gap(similarity, labels),
        "retrieval_p10": precision_at(similarity, labels),
        "bow_cosine_gap": cosine_gap(bow, labels),
        "bow_retrieval_p10": precision_at(bow, labels),
    }


def save_documents(vectors: np.ndarray, labels: np.ndarray, names, path: Path) -> None:
    """The test documents' vectors projected on their two principal axes, coloured by module."""
    from sklearn.decomposition import PCA

    points = PCA(n_components=2, random_state=0).fit_transform(vectors)
    title = "JoSE: test documents' vectors by module (PCA)"
    save_scatter(points, labels, path, title, names)
