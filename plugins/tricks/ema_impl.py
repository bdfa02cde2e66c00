"""The ``ema`` trick on Lightning's ``WeightAveraging`` callback (which checkpoints the average)."""
from __future__ import annotations

from lightning.pytorch.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from pipeline import Trick


class ExponentialAverage(WeightAveraging):
    """Θ ← αΘ + (1−α)θ after every optimizer step, from Θ₀ = θ₀ (the blog's Keras EMA starts there too).

    Lightning's callback swaps Θ in for validation, copies it into the model when training ends and
    saves it in checkpoints; this subclass only fixes the start of the average.
    """

    def __init__(self, decay: float):
        super().__init__(use_buffers=True, multi_avg_fn=get_ema_multi_avg_fn(decay))
        self.decay = decay

    def setup(self, trainer, pl_module, stage):
        super().setup(trainer, pl_module, stage)
        if stage == "fit":
            # AveragedModel copies θ on its first update; counting Θ₀ = θ₀ as one average makes the first
            # step blend like every other. A resumed run overwrites this with the checkpointed count.
            self._average_model.n_averaged.fill_(1)


class EmaTrick(Trick):
    """Adds the averaging callback."""

    def callbacks(self, settings):
        return [ExponentialAverage(settings["decay"])]
