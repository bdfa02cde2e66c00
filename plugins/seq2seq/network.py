"""The networks of "玩转Keras之seq2seq自动生成标题" (seq2seq title generation): a BiLSTM encoder
over the article's characters, and an LSTM decoder whose LayerNorm is conditioned on the encoder's
summary vector and which attends over the encoder states.

The article is also a prior over the output ("先验知识": a title's tokens are mostly the article's):
the decoder's softmax is mixed with a copy distribution that puts mass only on the article's own
tokens (:func:`copy_distribution`, :func:`mixed`), with a learned weight at every step.

Both run on whole batches of padded rows (``PAD`` = 0) without packing, so each exports to ONNX as
it is: the backward direction reads each row's own characters in reverse through a gather.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from pipeline import PAD
from plugins.sequence.norm import ConditionalLayerNorm

NEG = -1e9  # an attention score that softmax turns into an exact zero weight


TINY = 1e-9  # the least probability a token gets, so that log-probabilities stay finite


class Encoded(NamedTuple):
    """What the encoder gives the decoder: states ``(B, T, 2H)`` (zero at padding), summary
    ``(B, 2H)`` (the states' max over the article), mask ``(B, T)`` (1.0 on characters), the
    decoder's first state ``(B, 2H)`` (its ``h`` and ``c`` side by side) and ``following``
    ``(B, T)``: the article's token after each position (``PAD`` after the last), the token that
    pointing at that position copies."""

    memory: torch.Tensor
    summary: torch.Tensor
    mask: torch.Tensor
    state: torch.Tensor
    following: torch.Tensor


def copy_distribution(scores: torch.Tensor, following: torch.Tensor, vocab: int) -> torch.Tensor:
    """Pointer scores ``(B, L, T)`` over the article's positions → a distribution ``(B, L, V)``
    over tokens: softmax over the positions that have a following token, each position's weight
    given to that token. Tokens absent from the article get exactly zero."""
    copyable = (following != PAD).unsqueeze(1)
    weights = torch.softmax(scores.masked_fill(~copyable, NEG), dim=-1)
    one_hot = (following.unsqueeze(-1) == torch.arange(vocab, device=following.device)).float()
    return weights @ one_hot


def mixed(generated: torch.Tensor, copied: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The next token's distribution: ``(1 − weight)·generated + weight·copied`` (both sum to 1,
    so the mixture does)."""
    return (1 - weight) * generated + weight * copied


def reverse_rows(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row's first ``length`` steps in reverse order, its padding left in place."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)
    index = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)
    return x.gather(1, index.unsqueeze(-1).expand_as(x))


class Encoder(nn.Module):
    """Article ids ``(B, T)`` → :class:`Encoded`: a forward and a backward LSTM of ``hidden``
    units each."""

    def __init__(self, embed: nn.Embedding, hidden: int, dropout: float):
        super().__init__()
        self.embed = embed
        self.forward_lstm = nn.LSTM(embed.embedding_dim, hidden, batch_first=True)
        self.backward_lstm = nn.LSTM(embed.embedding_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = (ids != PAD).float()
        lengths = (ids != PAD).sum(1)
        x = self.dropout(self.embed(ids))
        ahead, _ = self.forward_lstm(x)
        behind, _ = self.backward_lstm(reverse_rows(x, lengths))
        memory = torch.cat([ahead, reverse_rows(behind, lengths)], -1) * mask.unsqueeze(-1)
        summary = (memory + (mask.unsqueeze(-1) - 1) * 1e4).amax(1)
        return memory, summary, mask


class Decoder(nn.Module):
    """Previous tokens ``(B, L)`` and a state → log-probabilities ``(B, L, V)`` of the next ones
    and the new state: LSTM → conditional LayerNorm (on the summary) → attention over the encoder
    states → two dense layers → softmax, mixed with a pointer's copy of the article's tokens."""

    def __init__(self, embed: nn.Embedding, hidden: int, dropout: float):
        super().__init__()
        memory = 2 * hidden
        self.embed = embed
        self.lstm = nn.LSTM(embed.embedding_dim, hidden, batch_first=True)
        self.norm = ConditionalLayerNorm(hidden, memory)
        self.query = nn.Linear(hidden, memory, bias=False)
        self.hidden = nn.Linear(hidden + memory, hidden)
        self.out = nn.Linear(hidden, embed.num_embeddings)
        self.pointer = nn.Linear(hidden, memory, bias=False)
        self.copy_weight = nn.Linear(hidden + memory, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: torch.Tensor, encoded: Encoded) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = encoded.state.unsqueeze(0).chunk(2, dim=-1)
        y, (h, c) = self.lstm(self.dropout(self.embed(tokens)), (h.contiguous(), c.contiguous()))
        y = self.norm(self.dropout(y), encoded.summary)
        scale = encoded.memory.shape[-1]
        scores = self.query(y) @ encoded.memory.transpose(1, 2) / math.sqrt(scale)
        weights = torch.softmax(scores + (1 - encoded.mask.unsqueeze(1)) * NEG, dim=-1)
        context = torch.cat([y, weights @ encoded.memory], -1)
        y = torch.tanh(self.hidden(context))
        generated = torch.softmax(self.out(self.dropout(y)), -1)
        pointed = self.pointer(y) @ encoded.memory.transpose(1, 2) / math.sqrt(scale)
        copied = copy_distribution(pointed, encoded.following, generated.shape[-1])
        probs = mixed(generated, copied, torch.sigmoid(self.copy_weight(context)))
        return torch.log(probs.clamp_min(TINY)), torch.cat([h, c], -1).squeeze(0)


class Seq2Seq(nn.Module):
    """Encoder and decoder sharing one character embedding; the decoder's first state is
    ``h = tanh(W·summary)``, ``c = 0``."""

    def __init__(self, vocab: int, embedding: int, hidden: int, dropout: float):
        super().__init__()
        embed = nn.Embedding(vocab, embedding, padding_idx=PAD)
        self.encoder = Encoder(embed, hidden, dropout)
        self.decoder = Decoder(embed, hidden, dropout)
        self.start = nn.Linear(2 * hidden, hidden)

    def encode(self, ids: torch.Tensor) -> Encoded:
        """The article ids' encoding."""
        memory, summary, mask = self.encoder(ids)
        h = torch.tanh(self.start(summary))
        following = torch.cat([ids[:, 1:], torch.full_like(ids[:, :1], PAD)], 1)
        return Encoded(memory, summary, mask, torch.cat([h, torch.zeros_like(h)], -1), following)

    def forward(self, ids: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: log-probabilities ``(B, L, V)`` of the token after each of
        ``inputs``."""
        return self.decoder(inputs, self.encode(ids))[0]


class EncoderPart(nn.Module):
    """The exported encoder: article ids → (states, summary, mask, first decoder state, following
    tokens)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model.encode(ids))


class DecoderStepPart(nn.Module):
    """The exported decoder step: (previous token ``(B,)``, state, states, summary, mask,
    following tokens) → (log-probabilities ``(B, V)``, new state)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model

    def forward(
        self,
        token: torch.Tensor,
        state: torch.Tensor,
        memory: torch.Tensor,
        summary: torch.Tensor,
        mask: torch.Tensor,
        following: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, state = self.model.decoder(
            token.unsqueeze(1), Encoded(memory, summary, mask, state, following)
        )
        return log_probs.squeeze(1), state
