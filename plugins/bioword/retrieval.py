"""Nearest-neighbour retrieval of documents by their codes, and the random-projection baseline.

Precision@n (:func:`plugins.text.retrieval.precision_at`): for each document, the share of its n
most similar other documents that carry its label. Similarity is hash overlap for the fly's k-of-K
codes (Hamming distance is 2(k − overlap)), and agreeing bits for SimHash's sign codes (K − Hamming
distance).
"""

from __future__ import annotations

import numpy as np

from plugins.text.retrieval import precision_at


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
