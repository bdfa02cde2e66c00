"""Trick ``ema``: an exponential moving average of the weights, for validation, evaluation and
export.

After every optimizer step Θ ← αΘ + (1−α)θ, starting from Θ₀ = θ₀; the optimizer keeps training θ
untouched. Validation runs on Θ (swapped in and back), training ends with Θ in the model, so the
saved model, the evaluate stage and the export all use the averaged weights. Θ is checkpointed, so
a resumed run continues the same average. The weight moving average of
"“让Keras更酷一些!”:中间变量、权重滑动和安全生成器" ("Make Keras cooler!": intermediate
variables, weight moving averages and safe generators) starts from the initial weights too.

Built on Lightning's ``WeightAveraging`` callback, which swaps Θ in for validation, copies it into
the model when training ends and saves it in checkpoints. Its public extension points carry the
average itself: ``multi_avg_fn`` (torch's ``get_ema_multi_avg_fn``) and ``should_update``. Two
things have no public point, so this subclass touches the callback's private state (listed with
the pipeline's other private uses in docs/upgrading.md), and ``tests/test_trick_ema.py`` fails if
that state changes shape in a Lightning upgrade:

- ``_average_model.n_averaged``: ``AveragedModel`` copies θ on its first update, so the average
  would start at θ₁; neither ``AveragedModel`` nor the callback takes a starting count, and only
  counting Θ₀ = θ₀ as one average makes the first step blend like every other.
- ``_latest_update_step``: ``AveragedModel.update_parameters`` regroups every tensor by device and
  dtype on each call, which on the small models here costs several times the average itself; so
  the per-step update below runs the same ``multi_avg_fn`` on tensor lists gathered once, and keeps
  the callback's own once-per-optimizer-step guard (which it checkpoints) as the base class does.
"""

from __future__ import annotations

import itertools

import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from pipeline import Trick


class ExponentialAverage(WeightAveraging):
    """Θ ← αΘ + (1−α)θ after every optimizer step, from Θ₀ = θ₀."""

    def __init__(self, decay: float):
        self.ema_update = get_ema_multi_avg_fn(decay)
        super().__init__(use_buffers=True, multi_avg_fn=self.ema_update)
        self._pairs: tuple[list, list, list] | None = None

    def setup(self, trainer, pl_module, stage):
        super().setup(trainer, pl_module, stage)
        if stage == "fit":
            # Θ₀ = θ₀ counts as one average (see the module docstring); a resumed run overwrites
            # this with the checkpointed count.
            self._average_model.n_averaged.fill_(1)
            self._pairs = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # WeightAveraging.on_train_batch_end, with the cheap update in place of update_parameters.
        step_idx = trainer.global_step - 1
        if trainer.global_step > self._latest_update_step and self.should_update(step_idx=step_idx):
            self._update(pl_module)
            self._latest_update_step = trainer.global_step

    @torch.no_grad()
    def _update(self, pl_module) -> None:
        if self._pairs is None:
            average = self._average_model.module
            pairs = list(
                zip(
                    itertools.chain(average.parameters(), average.buffers()),
                    itertools.chain(pl_module.parameters(), pl_module.buffers()),
                    strict=True,
                )
            )
            floats = [(a, c.detach()) for a, c in pairs if a.is_floating_point()]
            counters = [(a, c) for a, c in pairs if not a.is_floating_point()]
            self._pairs = ([a for a, _ in floats], [c for _, c in floats], counters)
        averaged, current, counters = self._pairs
        if averaged:
            self.ema_update(averaged, current, self._average_model.n_averaged)
        for average, value in counters:  # integer buffers (batch counters) are copied, not averaged
            average.copy_(value)
        self._average_model.n_averaged += 1


class EmaTrick(Trick):
    """Adds the averaging callback."""

    def callbacks(self, settings):
        return [ExponentialAverage(settings["decay"])]
