"""Trick ``orthogonal_reg``: a penalty pushing the columns of Linear kernels toward orthonormality.

The series' post on the "Self-Orthogonality Module" asks for a regulariser with an orthogonalising
tendency on the kernels W = (w₁, …, w_k) ∈ ℝ^{d×k} of dense layers, y = Wᵀx: filters w_i pointing
in different directions carry different information. The post's full text is not among the
project's sources, so this is the standard soft-orthogonality form rather than the paper's own:
weight · Σ_W ‖WᵀW − I‖²_F over the chosen kernels (BigGAN's variant leaves out the diagonal). A
PyTorch ``nn.Linear`` stores Wᵀ (shape k × d), so its rows are the columns w_i.

The penalty's gradient 4·W(WᵀW − I) (in torch's layout 4·(WWᵀ − I)W) is added to the gradients just
before each optimizer step, after accumulation and before any gradient transform: the same update as
adding the penalty to the loss, once per optimizer step, without touching the family's loss.
"""

from __future__ import annotations

from typing import Any, Mapping

import lightning.pytorch as pl
import torch
from torch import nn
from torch.nn.utils import parametrize

from pipeline import PipelineError, Trick
from plugins.tricks.patterns import matches

KEY = "tricks.orthogonal_reg.patterns"


def orthogonality_penalty(weight: torch.Tensor) -> torch.Tensor:
    """‖WᵀW − I‖²_F for an ``nn.Linear`` weight (W's columns are the weight's rows)."""
    gram = weight @ weight.T
    return (gram - torch.eye(len(gram), dtype=gram.dtype, device=gram.device)).square().sum()


def orthogonality_gradient(weight: torch.Tensor) -> torch.Tensor:
    """The gradient of :func:`orthogonality_penalty` in closed form: 4·(WWᵀ − I)W, torch layout."""
    gram = weight @ weight.T
    gram.diagonal().sub_(1)
    return 4 * gram @ weight


def linear_weights(module: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable weight matrices of the module's ``nn.Linear`` layers, by parameter name.

    A weight under a torch parametrization (``spectral_norm``) is represented by the parameter the
    optimizer steps, ``<layer>.parametrizations.weight.original``: spectral normalisation only
    rescales it, so its columns' angles are the weight's. Reading the parametrized weight itself
    would also advance the power iteration.
    """
    kernels = {}
    for name, layer in module.named_modules():
        if not isinstance(layer, nn.Linear):
            continue
        base = f"{name}." if name else ""
        if parametrize.is_parametrized(layer, "weight"):
            key = f"{base}parametrizations.weight.original"
            weight = layer.parametrizations.weight.original
        else:
            key, weight = f"{base}weight", layer.weight
        # A weight that is no parameter (the older spectral_norm's) is computed, not stepped.
        if isinstance(weight, nn.Parameter) and weight.requires_grad and weight.dim() == 2:
            kernels[key] = weight
    return kernels


def chosen_kernels(module: nn.Module, patterns: list[str]) -> dict[str, torch.Tensor]:
    """The Linear weights whose names match ``patterns``; raises when a pattern matches none."""
    kernels = linear_weights(module)
    if not kernels:
        raise PipelineError(
            f"{KEY}: this model has no Linear layer, so there is no kernel to regularise; "
            "remove tricks.orthogonal_reg."
        )
    for pattern in patterns:
        if not any(matches(name, (pattern,)) for name in kernels):
            raise PipelineError(
                f"{KEY}: pattern {pattern!r} matches no Linear layer's weight of this model; "
                f"they are {', '.join(kernels)}."
            )
    return {name: w for name, w in kernels.items() if matches(name, patterns)}


class OrthogonalPenalty(pl.Callback):
    """Adds weight · ∇‖WᵀW − I‖² to the gradient of every chosen kernel, once per optimizer
    step."""

    def __init__(self, settings: Mapping[str, Any]):
        self.weight = settings["weight"]
        self.patterns = settings["patterns"]

    @torch.no_grad()
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer
    ) -> None:
        for kernel in chosen_kernels(pl_module, self.patterns).values():
            step = self.weight * orthogonality_gradient(kernel)
            if kernel.grad is None:
                kernel.grad = step
            else:
                kernel.grad.add_(step)


class OrthogonalReg(Trick):
    """Checks the patterns name Linear kernels and adds the penalty's callback."""

    def check(self, settings, module):
        chosen_kernels(module, settings["patterns"])

    def callbacks(self, settings):
        return [OrthogonalPenalty(settings)]
