"""piecewise_lr: the multiplier interpolates the points, given in optimizer steps or in fractions of
the run,
and Lightning steps it once per optimizer step."""

from __future__ import annotations

import math

import pytest

from pipeline import PipelineError
from pipeline.params.validate import validate_tricks
from plugins.tricks.piecewise_lr import PiecewiseLinear, PiecewiseLr, in_steps
from plugins.tricks.points import as_points, check_points
from tests.trick_kit import REGISTRY, StepRecorder, Tiny, classification_data, fit

DOCUMENTED = [0, 0.5, 1, 0.55, 0.1, 0.1]  # at t = 0, 500, 1000, 1500, 2000, 5000


@pytest.mark.parametrize(
    ("unit", "points", "total"),
    [("steps", [[1000, 1], [2000, 0.1]], 3000), ("fraction", [[0.25, 1], [0.5, 0.1]], 4000)],
)
def test_multipliers_of_the_documented_example_in_both_units(unit, points, total):
    schedule = PiecewiseLinear(in_steps(as_points(points), unit, total))
    got = [schedule(t) for t in (0, 500, 1000, 1500, 2000, 5000)]
    assert got == pytest.approx(DOCUMENTED, rel=0, abs=1e-12)


def test_the_default_schedule_warms_up_holds_and_decays_over_any_runs_length():
    settings = validate_tricks({"piecewise_lr": {}}, REGISTRY)["piecewise_lr"]
    assert settings == {"points": [[0.1, 1.0], [0.5, 1.0], [1.0, 0.1]], "unit": "fraction"}
    for total in (100, 4000):
        schedule = PiecewiseLinear(in_steps(as_points(settings["points"]), settings["unit"], total))
        got = [schedule(total * f) for f in (0, 0.05, 0.1, 0.3, 0.5, 0.75, 1.0, 2.0)]
        assert got == pytest.approx([0, 0.5, 1, 1, 1, 0.55, 0.1, 0.1], rel=0, abs=1e-12)


def test_a_point_at_step_zero_replaces_the_implicit_start():
    schedule = PiecewiseLinear(as_points([[10, 1], [0, 2]]))  # points may come in any order
    assert [schedule(t) for t in (0, 5, 10, 99)] == [2, 1.5, 1, 1]


@pytest.mark.parametrize(
    ("unit", "points"), [("steps", [[2, 1], [6, 0.25]]), ("fraction", [[0.25, 1], [0.75, 0.25]])]
)
def test_schedule_advances_once_per_optimizer_step_under_accumulation(unit, points):
    lr = 0.1
    recorder = StepRecorder()
    trainer = fit(
        Tiny(),
        {"piecewise_lr": {"points": points, "unit": unit}, "grad_accum": {"k": 2}},
        classification_data(64),
        batch_size=4,
        optimizer="sgd",
        after=[recorder],
    )
    assert trainer.global_step == trainer.estimated_stepping_batches == 8
    schedule = PiecewiseLinear([(2, 1.0), (6, 0.25)])
    assert [lrs[0] for lrs in recorder.lrs] == [lr * schedule(t) for t in range(8)]


def test_fractions_follow_the_runs_length_under_accumulation_and_max_steps():
    recorder = StepRecorder()
    trainer = fit(
        Tiny(),
        {"piecewise_lr": {"points": [[0.5, 1]], "unit": "fraction"}, "grad_accum": {"k": 2}},
        classification_data(64),
        batch_size=4,
        optimizer="sgd",
        after=[recorder],
        max_epochs=3,
        max_steps=12,
    )
    assert trainer.global_step == 12
    assert [lrs[0] for lrs in recorder.lrs] == pytest.approx(
        [0.1 * min(t / 6, 1) for t in range(12)], rel=0, abs=1e-15
    )


def test_absolute_points_beyond_the_runs_last_step_are_warned_about():
    with pytest.warns(
        UserWarning,
        match=r"^tricks\.piecewise_lr: points at steps \[400\] lie beyond this run's last "
        r"optimizer step \(100\); the schedule stops short of them\.$",
    ):
        assert in_steps(as_points([[50, 1], [400, 0.1]]), "steps", 100) == [(50, 1.0), (400, 0.1)]


def test_fractions_need_a_run_of_known_length():
    with pytest.raises(PipelineError, match=r"unit = 'fraction' needs a run of known length"):
        in_steps(as_points([[0.1, 1]]), "fraction", math.inf)


@pytest.mark.parametrize(
    ("unit", "points", "message"),
    [
        (
            "fraction",
            [[1000, 1]],
            r"has position 1000, beyond 1, while tricks\.piecewise_lr\.unit = 'fraction'",
        ),
        (
            "steps",
            [[1.5, 1]],
            r"has position 1\.5 while tricks\.piecewise_lr\.unit = 'steps'; give whole optimizer "
            r"steps",
        ),
    ],
)
def test_positions_must_fit_the_unit(unit, points, message):
    with pytest.raises(PipelineError, match=message):
        check_points(as_points(points), unit)
    with pytest.raises(PipelineError, match=message):
        PiecewiseLr().check({"points": points, "unit": unit}, Tiny())


@pytest.mark.parametrize(
    "points",
    [
        [],
        [[-1, 1]],
        [[10, -0.5]],
        [[10, True]],
        [[10, 1], [10, 2]],
        [[0.5, 1], [0.5, 2]],
        [[10, 1, 2]],
        {1000: 1},
    ],
)
def test_invalid_points_are_refused_naming_the_key(points):
    with pytest.raises(
        PipelineError,
        match=r"tricks\.piecewise_lr\.points = .* is invalid; expected a non-empty list of "
        r"\[position, multiplier\] pairs",
    ):
        validate_tricks({"piecewise_lr": {"points": points}}, REGISTRY)
