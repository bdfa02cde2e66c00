"""piecewise_lr: the multiplier interpolates the points, and Lightning steps it once per optimizer step."""
from __future__ import annotations

import pytest

from pipeline import PipelineError
from pipeline.config import validate_tricks
from plugins.tricks.piecewise_lr import as_points
from plugins.tricks.piecewise_lr_impl import PiecewiseLinear
from tests.test_trick_kit import REGISTRY, StepRecorder, Tiny, classification_data, fit


def test_multipliers_of_the_documented_example():
    schedule = PiecewiseLinear(as_points([[1000, 1], [2000, 0.1]]))
    got = [schedule(t) for t in (0, 500, 1000, 1500, 2000, 5000)]
    assert got == pytest.approx([0, 0.5, 1, 0.55, 0.1, 0.1], rel=0, abs=1e-12)


def test_a_point_at_step_zero_replaces_the_implicit_start():
    schedule = PiecewiseLinear(as_points([[10, 1], [0, 2]]))  # points may come in any order
    assert [schedule(t) for t in (0, 5, 10, 99)] == [2, 1.5, 1, 1]


def test_schedule_advances_once_per_optimizer_step_under_accumulation():
    points, lr = [[2, 1], [6, 0.25]], 0.1
    recorder = StepRecorder()
    trainer = fit(Tiny(), {"piecewise_lr": {"points": points}, "grad_accum": {"k": 2}}, classification_data(64),
                  batch_size=4, optimizer="sgd", after=[recorder])
    assert trainer.global_step == 8
    schedule = PiecewiseLinear(as_points(points))
    assert [lrs[0] for lrs in recorder.lrs] == [lr * schedule(t) for t in range(8)]


@pytest.mark.parametrize("points", [[], [[-1, 1]], [[10, -0.5]], [[10, True]], [[10, 1], [10, 2]], [[1.5, 1]],
                                    [[10, 1, 2]], {1000: 1}])
def test_invalid_points_are_refused_naming_the_key(points):
    with pytest.raises(PipelineError, match=r"tricks\.piecewise_lr\.points = .* is invalid; expected a non-empty list of \[step, multiplier\] pairs"):
        validate_tricks({"piecewise_lr": {"points": points}}, REGISTRY)
