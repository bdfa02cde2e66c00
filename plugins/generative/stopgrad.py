"""Cutting gradients so that one loss trains two players, each only on its own objective.

With ``sg`` the stop-gradient, the single loss of a GAN is
``L = L_D(x, sg(G(z))) + λ·L_G(D_sg(G(z)))`` where ``D_sg`` is the discriminator evaluated with
detached parameters. The first term reaches only D (its input is cut from G); the second reaches
only G (D's parameters are constants there). Hence ∇_D L = ∇_D L_D and ∇_G L = λ∇_G L_G exactly.
The author's own formulation, ``λ·[L_G(G(z)) − L_G(sg(G(z)))]``, cancels D's share of the second
term by subtraction, which holds only up to rounding; detaching D's parameters makes it exact.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call


def frozen_call(module: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    """``module(*inputs)`` with its parameters treated as constants: gradients reach only
    ``inputs``."""
    detached = {name: p.detach() for name, p in module.named_parameters()}
    return functional_call(module, detached, inputs)


def gradient_only(term: torch.Tensor) -> torch.Tensor:
    """A zero-valued tensor whose gradient is that of ``term``.

    Added to a loss, it leaves the reported value untouched (so a GAN's single loss reads as its
    discriminator loss, as in the author's formulation) while still training through ``term``.
    """
    return term - term.detach()
