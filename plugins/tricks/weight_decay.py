"""Trick ``weight_decay``: decoupled weight decay θ ← θ − lr·wd·θ for any base optimizer (AdamW's rule).

The decay is applied just before each optimizer step, apart from the gradient, so Adam's moments and
SGD's momentum never see it. Parameters matching ``exclude`` are not decayed, nor, while
``exclude_1d`` is on, any 1-D parameter: biases and the scales and shifts of normalisation layers.
The rate follows each group's learning rate, schedules and ``param_lr`` multipliers included.
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl
from plugins.tricks.patterns import pattern_list

SETTINGS = {
    "rate": Setting(0.01, "decay rate wd; each step multiplies weights by 1 − lr·wd", low=0, low_open=True),
    "exclude": pattern_list([], "parameter-name patterns that are never decayed"),
    "exclude_1d": Setting(True, "never decay 1-D parameters (biases, normalisation scales and shifts)"),
}


def _load():
    from plugins.tricks.weight_decay_impl import WeightDecayTrick

    return WeightDecayTrick()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("weight_decay", "decoupled weight decay with exclusions, for any optimizer", _load, SETTINGS, order=30)]
