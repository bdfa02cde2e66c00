"""Plug-and-play control (PPLM, Dathathri et al., 2020) of an unconditional language model: at each
generation step the final hidden state at the current position is pushed a few gradient-ascent
steps (normalised as the paper's, or plain) up log p(label | text) of an attribute classifier, held
near the language model by a KL term, and the next-token distribution of the pushed state is fused
with the unpushed one by a geometric mean before sampling. The language model's weights never
change.

This is generation-time code: it needs gradients through the networks at every token, so it is not
part of the exported file (which holds the language model alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline import BOS, EOS, PAD
from plugins.pplm.model import AttributeClassifier, UnconditionalLM

SMALL = 1e-10  # keeps the gradient's normalisation finite when the gradient is zero


@dataclass(frozen=True)
class Steering:
    """How the hidden state h is pushed at each token: ``steps`` gradient steps
    Δ ← Δ − ``step_size``·∇L / ‖∇L‖^``norm_power`` on
    L = −log p(label | text) + ``kl_weight``·KL(p(h + Δ) ‖ p(h)) (the paper's update; power 0 is a
    plain gradient step, which shrinks by itself as the classifier grows sure), then the pushed
    next-token distribution is fused with the language model's as p(h + Δ)^fusion · p(h)^(1 −
    fusion), renormalised. ``reads`` says what the classifier reads: ``current`` the mean hidden
    state of the text with h + Δ, ``next`` that mean with also the state one token ahead, fed the
    expected embedding of the pushed next-token distribution (the paper's discriminator does so),
    which lets the gradient reach the classifier through the next token's choice."""

    step_size: float
    steps: int
    kl_weight: float
    fusion: float
    norm_power: float
    reads: str


def label_log_prob(
    model: UnconditionalLM,
    classifier: AttributeClassifier,
    prefix: torch.Tensor,
    hidden: torch.Tensor,
    pushed: torch.Tensor,
    labels: torch.Tensor,
    reads: str,
) -> torch.Tensor:
    """log p(label | text) per row, the current hidden state replaced by ``pushed``."""
    states = torch.cat([hidden[:, :-1], pushed[:, None]], 1)
    kept = prefix != PAD
    if reads == "next":
        expected = model.head(pushed).softmax(-1) @ model.lm.token_embed.weight
        embedded = torch.cat([model.lm.token_embed(prefix), expected[:, None]], 1)
        states = torch.cat([states, model.hidden_of(embedded)[:, -1:]], 1)
        kept = torch.cat([kept, kept.new_ones(len(kept), 1)], 1)
    mean = (states * kept[..., None]).sum(1) / kept.sum(1, keepdim=True)
    return classifier(mean).log_softmax(-1).gather(1, labels[:, None]).squeeze(1)


def push(
    model: UnconditionalLM,
    classifier: AttributeClassifier,
    prefix: torch.Tensor,
    hidden: torch.Tensor,
    labels: torch.Tensor,
    steering: Steering,
) -> torch.Tensor:
    """The current hidden state (batch, d) after the gradient steps toward ``labels``."""
    current = hidden[:, -1]
    reference = model.head(current).log_softmax(-1)
    delta = torch.zeros_like(current)
    for _ in range(steering.steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            moved = model.head(current + delta).log_softmax(-1)
            kl = (moved.exp() * (moved - reference)).sum(-1)
            wanted = label_log_prob(
                model, classifier, prefix, hidden, current + delta, labels, steering.reads
            )
            (grad,) = torch.autograd.grad((steering.kl_weight * kl - wanted).sum(), delta)
        norm = grad.norm(dim=-1, keepdim=True) + SMALL
        delta = (delta - steering.step_size * grad / norm**steering.norm_power).detach()
    return current + delta


@torch.no_grad()
def next_token_logits(
    model: UnconditionalLM,
    classifier: AttributeClassifier,
    prefix: torch.Tensor,
    labels: torch.Tensor,
    steering: Steering | None,
) -> torch.Tensor:
    """Next-token logits (batch, vocab) after ``prefix``: the language model's, or with
    ``steering`` the language model's plus ``fusion`` × (log p_pushed − log p_lm), which is the
    geometric-mean fusion and adds exact zeros when nothing was pushed."""
    hidden = model.hidden(prefix)
    logits = model.head(hidden)[:, -1]
    if steering is None:
        return logits
    current = hidden[:, -1]
    pushed = push(model, classifier, prefix, hidden, labels, steering)
    shift = model.head(pushed).log_softmax(-1) - model.head(current).log_softmax(-1)
    return logits + steering.fusion * shift


def next_token_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The sampling distribution of next-token ``logits``: ``PAD`` and ``BOS`` ruled out, then
    softmax at ``temperature``."""
    logits = logits.clone()
    logits[:, [PAD, BOS]] = float("-inf")  # neither may follow a token
    return (logits / temperature).softmax(-1)


@torch.no_grad()
def generate(
    model: UnconditionalLM,
    classifier: AttributeClassifier,
    labels: torch.Tensor,
    steering: Steering | None,
    temperature: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rows ``BOS …`` of ``model.length`` tokens, one per label, sampled at ``temperature`` (0: the
    most likely token) and steered toward the label unless ``steering`` is None; after ``EOS`` a
    row is padded."""
    rows = torch.full((len(labels), model.length), PAD, dtype=torch.long)
    rows[:, 0] = BOS
    done = torch.zeros(len(labels), dtype=torch.bool)
    for step in range(1, model.length):
        logits = next_token_logits(model, classifier, rows[:, :step], labels, steering)
        if temperature == 0:
            chosen = next_token_probs(logits, 1.0).argmax(-1)
        else:
            probs = next_token_probs(logits, temperature)
            chosen = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        rows[:, step] = torch.where(done, PAD, chosen)
        done |= chosen == EOS
        if done.all():
            break
    return rows
