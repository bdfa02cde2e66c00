"""Sampling from an energy E(x), i.e. from p(x) ∝ exp(−E(x)), by Langevin dynamics.

One step is x ← x − (step/2)·∇E(x) + √step·ε with ε ~ N(0, I): the unadjusted Langevin algorithm,
whose chain's stationary law approaches p as the step shrinks. Training draws its negative samples
from persistent chains kept in a replay buffer (most chains continue, a few restart from noise), so
a short run per batch still mixes over the whole of training.
"""

from __future__ import annotations

from typing import Callable

import torch

Energy = Callable[[torch.Tensor], torch.Tensor]


def langevin(
    energy: Energy,
    x: torch.Tensor,
    steps: int,
    step: float,
    box: tuple[float, float] | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``steps`` Langevin steps from ``x`` (rows are chains); ``box`` clamps every step into the
    data's range. Returns the last states, detached; the energy's parameters get no gradient."""
    x = x.detach().clone()
    noise = step**0.5
    for _ in range(steps):
        x.requires_grad_(True)
        (gradient,) = torch.autograd.grad(energy(x).sum(), x)
        eps = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = (x.detach() - 0.5 * step * gradient + noise * eps).detach()
        if box is not None:
            x = x.clamp(*box)
    return x


def restart_mask(n: int, fresh: float, device: torch.device | None = None) -> torch.Tensor:
    """Which of ``n`` chains restart from noise: each independently with probability ``fresh``."""
    return torch.rand(n, device=device) < fresh
