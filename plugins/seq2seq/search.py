"""Decoding: greedy and beam search over any decoder step (the torch decoder or its exported ONNX
file), and the teacher-forced score of given outputs.

A step maps ``(previous token (N,), state, memory, summary, mask, following)`` to
``(log-probabilities (N, V), new state)``. A hypothesis scores the sum of its tokens'
log-probabilities, its end marker included; a finished one only extends by ``PAD`` at no cost,
and ``PAD``/``BOS`` are never generated. Outputs are ``(B, max_len)`` ids without the start
marker, ``PAD`` after the end.
"""

from __future__ import annotations

from typing import Callable

import torch

from pipeline import BOS, EOS, PAD
from plugins.seq2seq.network import Encoded, Seq2Seq

Step = Callable[..., tuple[torch.Tensor, torch.Tensor]]


def _allowed(log_probs: torch.Tensor, finished: torch.Tensor) -> torch.Tensor:
    """Log-probabilities with ``PAD``/``BOS`` barred for live rows; finished rows may only add
    ``PAD``, at no cost."""
    barred = torch.zeros(log_probs.shape[-1], dtype=torch.bool)
    barred[[PAD, BOS]] = True
    live = log_probs.masked_fill(barred, float("-inf"))
    done = torch.full_like(log_probs, float("-inf"))
    done[..., PAD] = 0.0
    return torch.where(finished.unsqueeze(-1), done, live)


def step_context(encoded: Encoded) -> tuple[torch.Tensor, ...]:
    """What every decoder step reads besides the token and the state, in the step's order."""
    return encoded.memory, encoded.summary, encoded.mask, encoded.following


@torch.no_grad()
def greedy(step: Step, encoded: Encoded, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The most likely token at every step: ids ``(B, max_len)`` and their scores ``(B,)``."""
    batch = encoded.memory.shape[0]
    token = torch.full((batch,), BOS, dtype=torch.long)
    finished = torch.zeros(batch, dtype=torch.bool)
    score = torch.zeros(batch)
    state, outputs = encoded.state, []
    for _ in range(max_len):
        log_probs, state = step(token, state, *step_context(encoded))
        log_probs = _allowed(log_probs, finished)
        token = log_probs.argmax(-1)
        score = score + log_probs.gather(1, token.unsqueeze(1)).squeeze(1)
        finished = finished | (token == EOS)
        outputs.append(token)
        if finished.all():
            break
    return _padded(torch.stack(outputs, 1), max_len), score


@torch.no_grad()
def beam_search(
    step: Step, encoded: Encoded, width: int, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best of ``width`` hypotheses kept at every step: ids ``(B, max_len)`` and scores
    ``(B,)``. A row stops once its best hypothesis has ended: later tokens only lower a score."""
    batch = encoded.memory.shape[0]
    encoded = Encoded(*(t.repeat_interleave(width, 0) for t in encoded))
    state, context = encoded.state, step_context(encoded)
    scores = torch.full((batch, width), float("-inf"))
    scores[:, 0] = 0.0  # one hypothesis, the start marker, to begin with
    finished = torch.zeros(batch, width, dtype=torch.bool)
    tokens = torch.zeros(batch, width, 0, dtype=torch.long)
    token = torch.full((batch * width,), BOS, dtype=torch.long)
    for _ in range(max_len):
        log_probs, state = step(token, state, *context)
        vocab = log_probs.shape[-1]
        log_probs = _allowed(log_probs.view(batch, width, vocab), finished)
        scores, index = (scores.unsqueeze(-1) + log_probs).view(batch, -1).topk(width, dim=1)
        beam, word = index // vocab, index % vocab
        tokens = torch.cat([_pick(tokens, beam), word.unsqueeze(-1)], -1)
        finished = finished.gather(1, beam) | (word == EOS)
        state = _pick(state.view(batch, width, -1), beam).view(batch * width, -1)
        token = word.view(-1)
        if finished[:, 0].all():
            break
    return _padded(tokens[:, 0], max_len), scores[:, 0]


@torch.no_grad()
def teacher_forced_score(model: Seq2Seq, ids: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """The sum of the log-probabilities the decoder gives ``tokens`` (up to ``PAD``) when fed them
    one after the other."""
    inputs = torch.cat([torch.full_like(tokens[:, :1], BOS), tokens[:, :-1]], 1)
    picked = model(ids, inputs).gather(2, tokens.unsqueeze(-1)).squeeze(-1)
    return (picked * (tokens != PAD)).sum(1)


def _pick(x: torch.Tensor, beam: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` ``(B, K, …)`` chosen by ``beam`` ``(B, K)``."""
    index = beam.view(*beam.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return x.gather(1, index)


def _padded(tokens: torch.Tensor, length: int) -> torch.Tensor:
    return torch.nn.functional.pad(tokens, (0, length - tokens.shape[1]), value=PAD)
