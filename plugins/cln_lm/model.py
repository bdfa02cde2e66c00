"""A causal Transformer language model conditioned through its LayerNorms, after
"基于Conditional Layer Normalization的条件文本生成" (conditional text generation with conditional
layer normalization).

Every LayerNorm is a :class:`~plugins.sequence.norm.ConditionalLayerNorm` whose condition is an
embedding of the requested label. Its shifts start at zero, so an untrained model is exactly the
unconditional one and the condition enters only as training finds it useful.
"""

from __future__ import annotations

import torch
from torch import nn

from pipeline import BOS, EOS, PAD
from plugins.cln_lm.attention import SelfAttention
from plugins.sequence.norm import ConditionalLayerNorm


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
