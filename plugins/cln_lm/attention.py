"""Multi-head self-attention with two kernels: softmax, and the linear attention of
"线性Attention的探索" (Exploring linear attention), usable by any Transformer of the project.

Linear attention replaces softmax(QKᵀ)V by φ(Q)(φ(K)ᵀV) normalised by φ(Q)(φ(K)ᵀ1), φ = elu + 1
(positive, so the normaliser never vanishes). Multiplying φ(K)ᵀV first makes the cost linear in the
sequence length n: O(n·d²) instead of O(n²·d). In the causal form, position i sums only keys j ≤ i,
a cumulative sum over positions of the outer products φ(k_j)v_jᵀ.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

KINDS = ("softmax", "linear")


def feature_map(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = elu(x) + 1: positive features whose dot products stand in for exp(q·k)."""
    return F.elu(x) + 1


def softmax_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    weights: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """softmax(QKᵀ/√d)V over the last two dimensions (…, n, d); the n × n weights are built, and
    pass through ``weights`` when given (an identity module, so a forward hook can read them)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        future = torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    probabilities = scores.softmax(-1)
    return (probabilities if weights is None else weights(probabilities)) @ v


def linear_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, eps: float = 1e-6
) -> torch.Tensor:
    """φ(Q)(φ(K)ᵀV) / φ(Q)(φ(K)ᵀ1) over the last two dimensions (…, n, d), never forming n × n.

    Causal: the sums over keys become cumulative sums over positions, of φ(k_j)v_jᵀ (…, n, d, dv)
    for the numerator and of φ(k_j) for the normaliser.
    """
    q, k = feature_map(q), feature_map(k)
    if causal:
        kv = torch.cumsum(k.unsqueeze(-1) * v.unsqueeze(-2), dim=-3)
        numerator = (q.unsqueeze(-2) @ kv).squeeze(-2)
        normaliser = (q * torch.cumsum(k, dim=-2)).sum(-1, keepdim=True)
    else:
        numerator = q @ (k.transpose(-2, -1) @ v)
        normaliser = q @ k.sum(-2).unsqueeze(-1)
    return numerator / (normaliser + eps)


KERNELS = {"softmax": softmax_attention, "linear": linear_attention}


class SelfAttention(nn.Module):
    """Multi-head self-attention of ``x`` (batch, n, d_model) with the chosen kernel."""

    def __init__(self, d_model: int, heads: int, kind: str = "softmax", causal: bool = True):
        super().__init__()
        if kind not in KERNELS:
            raise ValueError(f"attention {kind!r} is unknown; valid: {', '.join(KINDS)}.")
        if d_model % heads:
            raise ValueError(f"d_model = {d_model} is not divisible by heads = {heads}.")
        self.heads, self.kind, self.causal = heads, kind, causal
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        # The softmax kernel's weights (batch, heads, n, n) pass through it: what the capture
        # trick draws as attention maps. It holds nothing, so the weights and exports are as before.
        self.map = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n, d_model = x.shape
        # (batch, n, 3·d) → three tensors (batch, heads, n, d / heads)
        split = self.qkv(x).reshape(batch, n, 3, self.heads, d_model // self.heads)
        q, k, v = split.permute(2, 0, 3, 1, 4)
        if self.kind == "softmax":
            mixed = softmax_attention(q, k, v, self.causal, self.map)
        else:
            mixed = linear_attention(q, k, v, self.causal)
        return self.out(mixed.transpose(1, 2).reshape(batch, n, d_model))
