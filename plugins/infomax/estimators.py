"""The Jensen–Shannon mutual-information estimator of Deep INFOMAX, and the critics' negatives.

For a critic T, ``jsd_mi`` = E_P[−softplus(−T)] − E_{P⊗P}[softplus(T)] = E_P[log σ(T)] +
E_{P⊗P}[log(1 − σ(T))]. Maximised over T (at T* = log dP/d(P⊗P)) it equals 2·JSD(P ‖ P⊗P) − 2 log 2,
so it rises with the Jensen–Shannon divergence between the joint and the product of marginals: a
bounded, low-variance stand-in for the mutual information.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def jsd_mi(joint: torch.Tensor, marginal: torch.Tensor) -> torch.Tensor:
    """The JSD estimate from critic scores of pairs drawn jointly and drawn independently."""
    return (-F.softplus(-joint)).mean() - F.softplus(marginal).mean()


def batch_pairs(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(joint, marginal)`` from the scores of every code of a batch (rows) against every image
    of it (columns, then any trailing locations): the diagonal pairs an image with its own code,
    every other entry with another example's, a draw from the product of the marginals (the
    post's in-batch shuffle, taken over all the batch's other examples at once)."""
    own = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    return scores[own], scores[~own]


def jsd_mi_in_batch(scores: torch.Tensor) -> torch.Tensor:
    """The JSD estimate with every other example of the batch as a negative."""
    return jsd_mi(*batch_pairs(scores))
