"""A causal Transformer language model conditioned through its LayerNorms, after
"基于Conditional Layer Normalization的条件文本生成" (conditional text generation with conditional
layer normalization).

Every LayerNorm's gain γ and bias β are shifted by Δγ = W_γ c and Δβ = W_β c, where c is the
condition (here an embedding of the requested label). W_γ and W_β start at zero, so an untrained
model is exactly the unconditional one and the condition enters only as training finds it useful.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.text import BOS, EOS, PAD
from plugins.cln_lm.attention import SelfAttention


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


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(CLN(x)), then x + MLP(CLN(x))."""

    def __init__(self, d_model: int, heads: int, condition: int, attention: str, dropout: float):
        super().__init__()
        self.norm1 = ConditionalLayerNorm(d_model, condition)
        self.attention = SelfAttention(d_model, heads, attention, causal=True)
        self.norm2 = ConditionalLayerNorm(d_model, condition)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x, c)))
        return x + self.dropout(self.mlp(self.norm2(x, c)))


class ConditionalLM(nn.Module):
    """Token ids (batch, n) and labels (batch,) → next-token logits (batch, n, vocab)."""

    def __init__(
        self,
        vocab: int,
        labels: int,
        length: int,
        d_model: int,
        heads: int,
        layers: int,
        attention: str,
        dropout: float,
    ):
        super().__init__()
        self.length = length
        self.token_embed = nn.Embedding(vocab, d_model)
        self.position_embed = nn.Embedding(length, d_model)
        self.label_embed = nn.Embedding(labels, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(d_model, heads, d_model, attention, dropout) for _ in range(layers)
        )
        self.norm = ConditionalLayerNorm(d_model, d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.dropout(self.token_embed(tokens) + self.position_embed(positions))
        c = self.label_embed(labels)
        for block in self.blocks:
            x = block(x, c)
        return self.head(self.norm(x, c))

    def token_nll(self, rows: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each next token of ``rows`` (batch, n − 1); 0 at padding."""
        logits = self(rows[:, :-1], labels)
        targets = rows[:, 1:]
        return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD, reduction="none")

    @torch.no_grad()
    def generate(
        self, labels: torch.Tensor, temperature: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Rows ``BOS …`` of ``self.length`` tokens for each label, sampled at ``temperature``
        (0: the most likely token each step); after ``EOS`` a row is padded."""
        rows = torch.full((len(labels), self.length), PAD, dtype=torch.long)
        rows[:, 0] = BOS
        done = torch.zeros(len(labels), dtype=torch.bool)
        for step in range(1, self.length):
            logits = self(rows[:, :step], labels)[:, -1]
            logits[:, [PAD, BOS]] = float("-inf")  # neither may follow a token
            if temperature == 0:
                chosen = logits.argmax(-1)
            else:
                probs = (logits / temperature).softmax(-1)
                chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            rows[:, step] = torch.where(done, PAD, chosen)
            done |= chosen == EOS
            if done.all():
                break
        return rows
