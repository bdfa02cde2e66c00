"""Trick ``weight_decay``: decoupled weight decay θ ← θ − lr·wd·θ for any base optimizer (AdamW's
rule).

The decay is applied just before each optimizer step, apart from the gradient, so Adam's moments and
SGD's momentum never see it. Parameters matching ``exclude`` are not decayed, nor, while
``exclude_1d`` is on, any 1-D parameter: biases and the scales and shifts of normalisation layers.
The rate follows each group's learning rate, schedules and ``param_lr`` multipliers included.
Param groups carry their decay rate, and an optimizer wrapper applies it.
"""

from __future__ import annotations

import torch

from pipeline import Trick
from plugins.tricks.groups import split_groups
from plugins.tricks.patterns import matches, parameter_names, require_matches
from plugins.tricks.wrapped import WrappedOptimizer

RATE_KEY = "decoupled_weight_decay"


class DecoupledWeightDecay(WrappedOptimizer):
    """Before the inner step, multiplies each decayed parameter that has a gradient by 1 − lr·wd (as
    AdamW does)."""

    def inner_step(self) -> None:
        for group in self.param_groups:
            rate = group.get(RATE_KEY, 0.0)
            params = [p for p in group["params"] if p.grad is not None]
            if rate and params:
                torch._foreach_mul_(params, 1 - group["lr"] * rate)
        self.inner.step()


class WeightDecayTrick(Trick):
    """Splits groups into decayed and excluded parameters and wraps the optimizer."""

    def check(self, settings, module):
        require_matches("tricks.weight_decay.exclude", settings["exclude"], parameter_names(module))

    def param_groups(self, settings, groups):
        def excluded(name: str, param) -> bool:
            return matches(name, settings["exclude"]) or (
                settings["exclude_1d"] and param.dim() <= 1
            )

        return split_groups(
            groups,
            excluded,
            lambda group, skip: {**group, RATE_KEY: 0.0 if skip else settings["rate"]},
        )

    def wrap_optimizer(self, settings, optimizer):
        return DecoupledWeightDecay(optimizer)
