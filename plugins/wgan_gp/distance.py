"""The exact Wasserstein-1 distance between two equal-size samples (what the critic estimates)."""

from __future__ import annotations

import numpy as np


def wasserstein(a: np.ndarray, b: np.ndarray) -> float:
    """W1 between the empirical distributions of the rows of ``a`` and ``b`` (Euclidean ground
    cost)."""
    from scipy.optimize import linear_sum_assignment
    from scipy.stats import wasserstein_distance

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[1] == 1:
        return float(wasserstein_distance(a[:, 0], b[:, 0]))
    # Between two uniform empirical measures of the same size an optimal plan is a permutation
    # (Birkhoff), so the assignment problem gives W1 exactly.
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    cost = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())
