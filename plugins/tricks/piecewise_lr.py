"""Trick ``piecewise_lr``: a piecewise-linear learning-rate schedule given as points (bert4keras'
schedule), on torch's ``LambdaLR`` stepped per optimizer step by Lightning.

``points`` lists [position, multiplier of the base learning rate] pairs. With ``unit: fraction``
(the default) a position is a fraction of the run's optimizer steps, so ``[[0.1, 1], [1.0, 0.1]]``
warms up from 0 to 1 over the first tenth of any run and then falls linearly to 0.1 at its last
step. With ``unit: steps`` positions are optimizer steps: ``[[1000, 1], [2000, 0.1]]`` rises from 0
at step 0 to 1 at step 1000, falls to 0.1 by step 2000 and stays there. A point at position 0
replaces the implicit start at 0. Pairs rather than a ``{position: multiplier}`` mapping, because a
list given with ``dvc exp run -S`` replaces the default whole, where Hydra would merge a mapping
into it. The schedule is stepped once per optimizer step (so once per k batches under
``grad_accum``) and is checkpointed.
"""

from __future__ import annotations

import math

import numpy as np
from lightning.pytorch.utilities import rank_zero_warn
from torch.optim.lr_scheduler import LambdaLR

from pipeline import PipelineError, Trick
from plugins.tricks.points import as_points, check_points


class PiecewiseLinear:
    """The multiplier at step t: linear between the points, held after the last; starts at 0 unless
    step 0 is given.

    Only plain lists are stored, because ``LambdaLR.state_dict`` saves this object's ``__dict__``
    into
    checkpoints that are read back with ``weights_only=True``.
    """

    def __init__(self, points: list[tuple[float, float]]):
        if points[0][0] != 0:
            points = [(0, 0.0), *points]
        self.steps = [float(step) for step, _ in points]
        self.values = [value for _, value in points]

    def __call__(self, step: int) -> float:
        return float(np.interp(step, self.steps, self.values))


def in_steps(
    points: list[tuple[float, float]], unit: str, total_steps: float
) -> list[tuple[float, float]]:
    """The points with positions in optimizer steps: fractions are scaled by the run's
    ``total_steps``."""
    if unit == "steps":
        if points[-1][0] > total_steps:
            rank_zero_warn(
                f"tricks.piecewise_lr: points at steps {[p for p, _ in points if p > total_steps]} "
                "lie beyond "
                f"this run's last optimizer step ({total_steps}); the schedule stops short of them."
            )
        return points
    if math.isinf(total_steps):
        raise PipelineError(
            "tricks.piecewise_lr.unit = 'fraction' needs a run of known length, but this run sets "
            "no "
            "trainer.max_epochs or max_steps; set one, or set tricks.piecewise_lr.unit=steps."
        )
    return [(fraction * max(total_steps, 1), value) for fraction, value in points]


class PiecewiseLr(Trick):
    """Adds a step-interval ``LambdaLR`` with the piecewise-linear multiplier."""

    def check(self, settings, module):
        check_points(as_points(settings["points"]), settings["unit"])

    def scheduler(self, settings, optimizer, total_steps):
        schedule = PiecewiseLinear(
            in_steps(as_points(settings["points"]), settings["unit"], total_steps)
        )
        return {
            "scheduler": LambdaLR(optimizer, schedule),
            "interval": "step",
            "frequency": 1,
            "name": "piecewise_lr",
        }
