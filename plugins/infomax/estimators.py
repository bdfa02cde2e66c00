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


def mismatched(codes: torch.Tensor) -> torch.Tensor:
    """Each row paired with another example's code (the batch rolled by one): draws from the
    product of the marginals that never pair an example with its own code."""
    return torch.roll(codes, shifts=1, dims=0)
