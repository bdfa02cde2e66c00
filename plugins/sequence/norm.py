"""Conditional LayerNorm, after "基于Conditional Layer Normalization的条件文本生成" (conditional
text generation with conditional layer normalization).

A LayerNorm's gain γ and bias β are shifted by Δγ = W_γ c and Δβ = W_β c, where c is a condition
vector. W_γ and W_β start at zero, so an untrained layer is exactly the plain LayerNorm and the
condition enters only as training finds it useful.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConditionalLayerNorm(nn.Module):
    """LayerNorm(x) with γ + W_γ c and β + W_β c; W_γ, W_β start at zero."""

    def __init__(self, d_model: int, condition: int, eps: float = 1e-5):
        super().__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.gamma = nn.Linear(condition, d_model, bias=False)
        self.beta = nn.Linear(condition, d_model, bias=False)
        nn.init.zeros_(self.gamma.weight)
        nn.init.zeros_(self.beta.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """``x`` (batch, …, d_model), ``c`` (batch, condition)."""
        # (γ + Δγ)·x̂ + β + Δβ written as LayerNorm(x) + Δγ·x̂ + Δβ: with Δγ = Δβ = 0 the result is
        # plain LayerNorm's output bit for bit (adding exact zeros changes no bit).
        shape = (x.shape[0],) + (1,) * (x.dim() - 2) + (x.shape[-1],)
        normalised = F.layer_norm(x, self.norm.normalized_shape, eps=self.norm.eps)
        shift = normalised * self.gamma(c).reshape(shape) + self.beta(c).reshape(shape)
        return self.norm(x) + shift
