"""One pre-norm Transformer that is a seq2seq model by its mask (UniLM): it reads the article row
and the title row side by side, ``[BOS article EOS PAD… | BOS title …]`` (the article row's end
marker and the title row's start marker stand between the two, as ``SEP``), every article position
attending to the whole article and every title position to the whole article and the title up to
itself (:func:`~plugins.unilm.mask.attention_mask`). With the ``causal`` mask it is exactly a
causal Transformer language model of the concatenation.

The blocks are laid out as :mod:`plugins.cln_lm.model`'s (token and position embeddings, pre-norm
blocks of attention and a GELU MLP, a final LayerNorm, a linear head) with plain LayerNorms, so
that a ``cln_lm`` network given the same weights is the plain LM a test compares against.

The article's positions never read the title under either mask, so decoding runs the article once
(:meth:`UniLM.read`, its keys and values per block) and then one title token a step
(:meth:`UniLM.next_token`), which keeps the title's keys and values as they grow.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from pipeline import PAD
from plugins.unilm.mask import attention_mask

KeysValues = tuple[torch.Tensor, torch.Tensor]


class MaskedSelfAttention(nn.Module):
    """Multi-head softmax self-attention where an explicit boolean mask says which keys each
    query reads (PyTorch's fused ``scaled_dot_product_attention``, which never forms the n × n
    weights); keys and values of earlier positions (``past``) come first."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model = {d_model} is not divisible by heads = {heads}.")
        self.heads = heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, past: KeysValues | None = None
    ) -> tuple[torch.Tensor, KeysValues]:
        """``x`` (B, n, d_model), ``allowed`` (B, n, keys) → output (B, n, d_model) and the keys
        and values of ``x``'s own positions (B, heads, n, d_model / heads)."""
        batch, n, d_model = x.shape
        split = self.qkv(x).reshape(batch, n, 3, self.heads, d_model // self.heads)
        q, k, v = split.permute(2, 0, 3, 1, 4)
        keys, values = (
            (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
        )
        mixed = F.scaled_dot_product_attention(q, keys, values, attn_mask=allowed.unsqueeze(1))
        return self.out(mixed.transpose(1, 2).reshape(batch, n, d_model)), (k, v)


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = MaskedSelfAttention(d_model, heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(
            nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, allowed: torch.Tensor, past: KeysValues | None = None
    ) -> tuple[torch.Tensor, KeysValues]:
        attended, keys_values = self.attention(self.norm1(x), allowed, past)
        x = x + self.dropout(attended)
        return x + self.dropout(self.mlp(self.norm2(x))), keys_values


class Prefix(NamedTuple):
    """The article as the title's positions read it: each block's keys and values over the
    article (B, heads, T, d_model / heads) and which article positions hold a token (B, T)."""

    keys_values: list[KeysValues]
    valid: torch.Tensor


def no_title(prefix: Prefix) -> torch.Tensor:
    """The keys and values of an empty title: ``(N, layers, 2, heads, 0, d_model / heads)``."""
    keys = prefix.keys_values[0][0]
    shape = (keys.shape[0], len(prefix.keys_values), 2, keys.shape[1], 0, keys.shape[3])
    return keys.new_zeros(shape)


def repeated(prefix: Prefix, times: int) -> Prefix:
    """``prefix`` with each article's row repeated ``times`` times in a row (one per beam)."""
    pairs = [
        (k.repeat_interleave(times, 0), v.repeat_interleave(times, 0))
        for k, v in prefix.keys_values
    ]
    return Prefix(pairs, prefix.valid.repeat_interleave(times, 0))


class UniLM(nn.Module):
    """Article ids ``(B, T)`` and title inputs ``(B, L)`` (``BOS`` and the title so far) →
    next-token logits at the title's positions ``(B, L, vocab)``; ``positions`` bounds T + L."""

    def __init__(
        self,
        vocab: int,
        positions: int,
        d_model: int,
        heads: int,
        layers: int,
        dropout: float,
        mask: str,
    ):
        super().__init__()
        self.mask = mask
        self.token_embed = nn.Embedding(vocab, d_model)
        self.position_embed = nn.Embedding(positions, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(d_model, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def _embed(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        return self.dropout(self.token_embed(tokens) + self.position_embed(positions))

    def logits(self, tokens: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
        """The whole concatenation at once: ``tokens`` and ``segments`` (0 source, 1 target), both
        ``(B, n)`` → next-token logits ``(B, n, vocab)`` at every position."""
        allowed = attention_mask(segments, tokens != PAD, self.mask)
        x = self._embed(tokens, 0)
        for block in self.blocks:
            x, _ = block(x, allowed)
        return self.head(self.norm(x))

    def forward(self, article: torch.Tensor, title: torch.Tensor) -> torch.Tensor:
        tokens = torch.cat([article, title], 1)
        segments = torch.cat([torch.zeros_like(article), torch.ones_like(title)], 1)
        return self.logits(tokens, segments)[:, article.shape[1] :]

    def read(self, article: torch.Tensor) -> Prefix:
        """The article's keys and values in every block: its positions never read the title, so
        they are the same whatever title follows."""
        valid = article != PAD
        allowed = attention_mask(torch.zeros_like(article), valid, self.mask)
        x, keys_values = self._embed(article, 0), []
        for block in self.blocks:
            x, pair = block(x, allowed)
            keys_values.append(pair)
        return Prefix(keys_values, valid)

    def next_token(
        self, prefix: Prefix, token: torch.Tensor, title: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One decoding step: the title's next ``token`` ``(N,)``, the keys and values of the
        title tokens before it ``title`` (:func:`no_title`, then what the last step returned) →
        the logits of the token after it ``(N, vocab)`` and the title's keys and values with its
        own appended ``(N, layers, 2, heads, t + 1, d_model / heads)``. The token reads the whole
        article and the title up to itself (under both masks); a live hypothesis holds no
        ``PAD``, so no title position is masked."""
        before = title.shape[4]
        length = prefix.valid.shape[1]
        allowed = torch.cat([prefix.valid, prefix.valid.new_ones(len(token), before + 1)], 1)
        x = self._embed(token.unsqueeze(1), length + before)
        added = []
        for i, (block, (keys, values)) in enumerate(
            zip(self.blocks, prefix.keys_values, strict=True)
        ):
            past = (torch.cat([keys, title[:, i, 0]], 2), torch.cat([values, title[:, i, 1]], 2))
            x, pair = block(x, allowed.unsqueeze(1), past)
            added.append(torch.stack(pair, 1))
        return self.head(self.norm(x))[:, 0], torch.cat([title, torch.stack(added, 1)], 4)
