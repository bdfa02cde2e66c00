"""The ``ema`` trick on Lightning's ``WeightAveraging`` callback (which swaps and checkpoints the average)."""
from __future__ import annotations

import itertools

import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from pipeline import Trick


class ExponentialAverage(WeightAveraging):
    """Θ ← αΘ + (1−α)θ after every optimizer step, from Θ₀ = θ₀ (the blog's Keras EMA starts there too).

    Lightning's callback swaps Θ in for validation, copies it into the model when training ends and
    saves it in checkpoints; this subclass fixes the start of the average and makes the update cheap.
    """

    def __init__(self, decay: float):
        super().__init__(use_buffers=True, multi_avg_fn=get_ema_multi_avg_fn(decay))
        self.decay = decay
        self._pairs: tuple[list, list, list] | None = None

    def setup(self, trainer, pl_module, stage):
        super().setup(trainer, pl_module, stage)
        if stage == "fit":
            # AveragedModel copies θ on its first update; counting Θ₀ = θ₀ as one average makes the first
            # step blend like every other. A resumed run overwrites this with the checkpointed count.
            self._average_model.n_averaged.fill_(1)
            self._pairs = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        # Once per optimizer step, as in WeightAveraging; the update itself skips AveragedModel's regrouping
        # of every tensor by device and dtype on each call, which costs more than the average on small models.
        if trainer.global_step > self._latest_update_step:
            self._update(pl_module)
            self._latest_update_step = trainer.global_step

    @torch.no_grad()
    def _update(self, pl_module) -> None:
        if self._pairs is None:
            average = self._average_model.module
            pairs = list(zip(itertools.chain(average.parameters(), average.buffers()),
                             itertools.chain(pl_module.parameters(), pl_module.buffers()), strict=True))
            floats = [(a, c.detach()) for a, c in pairs if a.is_floating_point()]
            self._pairs = ([a for a, _ in floats], [c for _, c in floats], [(a, c) for a, c in pairs if not a.is_floating_point()])
        averaged, current, counters = self._pairs
        torch._foreach_lerp_(averaged, current, 1 - self.decay)  # the same lerp as get_ema_multi_avg_fn
        for average, value in counters:  # integer buffers (batch counters) are copied, not averaged
            average.copy_(value)
        self._average_model.n_averaged += 1


class EmaTrick(Trick):
    """Adds the averaging callback."""

    def callbacks(self, settings):
        return [ExponentialAverage(settings["decay"])]
