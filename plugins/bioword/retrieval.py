"""Nearest-neighbour retrieval of documents by their codes, and the random-projection baseline.

Precision@n: for each document, the share of its n most similar other documents that carry its
label. Similarity is hash overlap for the fly's k-of-K codes (Hamming distance is 2(k − overlap)),
and agreeing bits for SimHash's sign codes (K − Hamming distance); ties go to the earlier document,
the same for every method, so no method gains from the order.
"""

from __future__ import annotations

import numpy as np


def precision_at(similarity: np.ndarray, labels: np.ndarray, n: int = 10) -> float:
    """Mean share of same-label documents among each document's ``n`` most similar others."""
    similarity = np.asarray(similarity, dtype=np.float64).copy()
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :n]
    return float((labels[nearest] == labels[:, None]).mean())


def overlap(codes: np.ndarray) -> np.ndarray:
    """Shared ones of every pair of binary codes."""
    codes = np.asarray(codes, dtype=np.float64)
    return codes @ codes.T


def simhash(bags: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """SimHash (Charikar, 2002): the signs (±1) of ``bits`` Gaussian random projections of each
    bag of words; two codes agree on a bit with probability 1 − angle/π."""
    planes = np.random.default_rng(seed).standard_normal((bags.shape[1], bits))
    return np.where(bags @ planes >= 0, 1.0, -1.0)


def simhash_precision(
    bags: np.ndarray, labels: np.ndarray, bits: int, seeds: int = 5, n: int = 10
) -> float:
    """Precision@n of SimHash codes by agreeing bits, averaged over ``seeds`` draws of planes."""
    scores = []
    for seed in range(seeds):
        codes = simhash(bags, bits, seed)
        scores.append(precision_at(codes @ codes.T, labels, n))
    return float(np.mean(scores))
