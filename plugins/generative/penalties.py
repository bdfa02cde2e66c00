"""Gradient penalties on the discriminator's input gradient (they differentiate inside the loss)."""

from __future__ import annotations

from typing import Callable

import torch

Critic = Callable[[torch.Tensor], torch.Tensor]


def scores_and_input_gradient(critic: Critic, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``critic(x)`` (one score per row) and ∇_x of the summed scores, kept differentiable."""
    x = x.detach().requires_grad_(True)
    scores = critic(x)
    (gradient,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return scores, gradient


def r1_penalty(critic: Critic, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of real data and E‖∇D(x)‖² on it: the zero-centred penalty that lets simultaneous
    gradient steps of both players converge (Mescheder et al., 2018)."""
    scores, gradient = scores_and_input_gradient(critic, real)
    return scores, gradient.pow(2).sum(1).mean()


def gradient_penalty(
    critic: Critic, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor | None = None
) -> torch.Tensor:
    """WGAN-GP's E(‖∇D(x̂)‖ − 1)² at x̂ = εx + (1 − ε)x̃, ε ~ U(0, 1) per row unless ``mix`` gives
    it."""
    mix = torch.rand(len(real), 1, device=real.device, dtype=real.dtype) if mix is None else mix
    _, gradient = scores_and_input_gradient(critic, mix * real + (1 - mix) * fake)
    return (gradient.norm(dim=1) - 1).pow(2).mean()
