"""Trick ``ema``: an exponential moving average of the weights, used for validation, evaluation and export.

After every optimizer step Θ ← αΘ + (1−α)θ, starting from Θ₀ = θ₀; the optimizer keeps training θ
untouched. Validation runs on Θ (swapped in and back), training ends with Θ in the model, so the
saved model, the evaluate stage and the export all use the averaged weights. Θ is checkpointed, so a
resumed run continues the same average.
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl

SETTINGS = {"decay": Setting(0.95, "α: weight of the old average at each step", low=0, high=1, low_open=True, high_open=True)}


def _load():
    from plugins.tricks.ema_impl import EmaTrick

    return EmaTrick()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("ema", "exponential moving average of the weights for evaluation and export", _load, SETTINGS, order=90)]
