"""Trick ``grad_transform``: transform gradients per parameter before every optimizer step.

Three transforms, applied in this order to the (accumulated) gradients, each to the parameters whose
names match its patterns: ``zero`` sets gradients to zero, ``clip_value`` clamps every element to
[−v, v], ``clip_norm`` rescales gradients whose L2 norm exceeds the threshold (direction kept) —
each parameter on its own (``norm_per: parameter``) or the parameters of one pattern jointly
(``norm_per: pattern``). Parameters matched by no pattern keep their gradients bit for bit. A
callback on Lightning's ``on_before_optimizer_step`` does it with ``torch.nn.utils``.
"""

from __future__ import annotations

from typing import Any, Mapping

import lightning.pytorch as pl
import torch
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

from pipeline import Trick
from plugins.tricks.patterns import matches, parameter_names, patterns_of, require_matches


class GradientTransforms(pl.Callback):
    """Zeroes, value-clips and norm-clips the gradients of matching parameters, once per optimizer
    step."""

    def __init__(self, settings: Mapping[str, Any]):
        self.settings = settings

    @torch.no_grad()
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer
    ) -> None:
        named = [(name, p) for name, p in pl_module.named_parameters() if p.grad is not None]

        for name, p in named:
            if matches(name, self.settings["zero"]):
                p.grad.zero_()
        for pattern, limit in self.settings["clip_value"]:
            clip_grad_value_([p for name, p in named if matches(name, (pattern,))], limit)
        for pattern, limit in self.settings["clip_norm"]:
            chosen = [p for name, p in named if matches(name, (pattern,))]
            if self.settings["norm_per"] == "pattern":
                clip_grad_norm_(chosen, limit)
            else:
                for p in chosen:
                    clip_grad_norm_(p, limit)


class GradTransform(Trick):
    """Adds the gradient-transform callback after checking every pattern names a parameter."""

    def check(self, settings, module):
        names = parameter_names(module)
        for key in ("clip_norm", "clip_value"):
            require_matches(f"tricks.grad_transform.{key}", patterns_of(settings[key]), names)
        require_matches("tricks.grad_transform.zero", settings["zero"], names)

    def callbacks(self, settings):
        return [GradientTransforms(settings)]
