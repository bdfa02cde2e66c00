"""Beam search over a decoding step that carries a state of any shape (for the Transformer: the
title's keys and values so far); ``plugins.seq2seq.search`` is bound to the LSTM decoder's
encoding, so this is its small twin. Generation-time code: it calls the network, and is not part
of what exports.

A step maps ``(previous token (N,), state (N, …))`` to ``(log-probabilities (N, V), new state)``.
A hypothesis scores the sum of its tokens' log-probabilities, its end marker included; a finished
one only extends by ``PAD`` at no cost, and ``PAD``/``BOS`` are never generated. Outputs are
``(B, max_len)`` ids without the start marker, ``PAD`` after the end.
"""

from __future__ import annotations

from typing import Callable

import torch

from pipeline import BOS, EOS, PAD

Step = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def allowed_log_probs(log_probs: torch.Tensor, finished: torch.Tensor) -> torch.Tensor:
    """``log_probs`` ``(…, V)`` with ``PAD``/``BOS`` barred for live hypotheses; finished ones may
    only add ``PAD``, at no cost."""
    live = log_probs.clone()
    live[..., [PAD, BOS]] = float("-inf")
    done = torch.full_like(log_probs, float("-inf"))
    done[..., PAD] = 0.0
    return torch.where(finished.unsqueeze(-1), done, live)


@torch.no_grad()
def beam_search(
    step: Step, state: torch.Tensor, width: int, max_len: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The best of ``width`` hypotheses kept at every step (1: greedy decoding): ids
    ``(B, max_len)`` and scores ``(B,)``. ``state`` holds ``width`` rows per article, in a row; a
    row stops once its best hypothesis has ended, since later tokens only lower a score."""
    batch = state.shape[0] // width
    scores = torch.full((batch, width), float("-inf"))
    scores[:, 0] = 0.0  # one hypothesis, the start marker, to begin with
    finished = torch.zeros(batch, width, dtype=torch.bool)
    tokens = torch.zeros(batch, width, 0, dtype=torch.long)
    token = torch.full((batch * width,), BOS, dtype=torch.long)
    first_row = torch.arange(batch).unsqueeze(1) * width
    for _ in range(max_len):
        log_probs, state = step(token, state)
        vocab = log_probs.shape[-1]
        log_probs = allowed_log_probs(log_probs.view(batch, width, vocab), finished)
        scores, index = (scores.unsqueeze(-1) + log_probs).view(batch, -1).topk(width, dim=1)
        beam, word = index // vocab, index % vocab
        rows = (first_row + beam).view(-1)
        tokens = torch.cat([tokens.view(batch * width, -1)[rows], word.view(-1, 1)], 1)
        tokens = tokens.view(batch, width, -1)
        finished = finished.gather(1, beam) | (word == EOS)
        state, token = state[rows], word.view(-1)
        if finished[:, 0].all():
            break
    best = tokens[:, 0]
    return torch.nn.functional.pad(best, (0, max_len - best.shape[1]), value=PAD), scores[:, 0]
