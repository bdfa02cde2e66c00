"""How well document vectors or codes keep a labelled corpus's classes apart: precision@k of
nearest-neighbour retrieval and the cosine gap, shared by the word- and document-embedding
families. Ties go to the earlier document, the same for every method, so none gains from the
order."""

from __future__ import annotations

import numpy as np

NEAREST = 10  # documents a query retrieves


def cosines(vectors: np.ndarray) -> np.ndarray:
    """The matrix of cosines between rows (a row of zeros has cosine 0 with everything)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.maximum(norms, 1e-12)
    return unit @ unit.T


def cosine_gap(similarity: np.ndarray, labels: np.ndarray) -> float:
    """Mean similarity of pairs from the same class minus that of pairs from different classes
    (a document is not paired with itself)."""
    same = labels[:, None] == labels[None, :]
    other = ~np.eye(len(labels), dtype=bool)
    if not (same & other).any() or same.all():
        return 0.0
    return float(similarity[same & other].mean() - similarity[~same].mean())


def precision_at(similarity: np.ndarray, labels: np.ndarray, k: int = NEAREST) -> float:
    """Mean share of each row's ``k`` most similar other rows (fewer in a smaller set) that share
    its label."""
    k = min(k, len(labels) - 1)
    if k < 1:
        return 0.0
    ranked = np.asarray(similarity, dtype=np.float64).copy()
    np.fill_diagonal(ranked, -np.inf)
    nearest = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    return float((labels[nearest] == labels[:, None]).mean())
