"""The ``piecewise_lr`` trick on torch's ``LambdaLR``, stepped per optimizer step by Lightning."""
from __future__ import annotations

import numpy as np
from torch.optim.lr_scheduler import LambdaLR

from pipeline import Trick
from plugins.tricks.piecewise_lr import as_points


class PiecewiseLinear:
    """The multiplier at step t: linear between the points, held after the last; starts at 0 unless step 0 is given.

    Only plain lists are stored, because ``LambdaLR.state_dict`` saves this object's ``__dict__`` into
    checkpoints that are read back with ``weights_only=True``.
    """

    def __init__(self, points: list[tuple[int, float]]):
        if points[0][0] != 0:
            points = [(0, 0.0), *points]
        self.steps = [float(step) for step, _ in points]
        self.values = [value for _, value in points]

    def __call__(self, step: int) -> float:
        return float(np.interp(step, self.steps, self.values))


class PiecewiseLr(Trick):
    """Adds a step-interval ``LambdaLR`` with the piecewise-linear multiplier."""

    def scheduler(self, settings, optimizer):
        schedule = PiecewiseLinear(as_points(settings["points"]))
        return {"scheduler": LambdaLR(optimizer, schedule), "interval": "step", "frequency": 1, "name": "piecewise_lr"}
