"""Trick ``piecewise_lr``: a piecewise-linear learning-rate schedule given as points (bert4keras' schedule).

``points`` lists [position, multiplier of the base learning rate] pairs. With ``unit: fraction`` (the
default) a position is a fraction of the run's optimizer steps, so ``[[0.1, 1], [1.0, 0.1]]`` warms up
from 0 to 1 over the first tenth of any run and then falls linearly to 0.1 at its last step. With
``unit: steps`` positions are optimizer steps: ``[[1000, 1], [2000, 0.1]]`` rises from 0 at step 0 to 1
at step 1000, falls to 0.1 by step 2000 and stays there. A point at position 0 replaces the implicit
start at 0. Pairs rather than a ``{position: multiplier}`` mapping, because a list given with
``dvc exp run -S`` replaces the default whole, where Hydra would merge a mapping into it. The schedule
is stepped once per optimizer step (so once per k batches under ``grad_accum``) and is checkpointed.
"""
from __future__ import annotations

from typing import Any

from pipeline import PipelineError, Setting, TrickSpec, hookimpl
from plugins.tricks.patterns import is_number


def as_points(value: Any) -> list[tuple[float, float]] | None:
    """The schedule as (position, multiplier) pairs sorted by position, or None if ``value`` is not a valid schedule."""
    if not isinstance(value, list) or not value:
        return None
    points: dict[float, float] = {}
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None
        position, multiplier = pair
        if not is_number(position, 0) or position in points or not is_number(multiplier, 0):
            return None
        points[position] = float(multiplier)
    return sorted(points.items())


def check_points(points: list[tuple[float, float]], unit: str) -> None:
    """Raise naming the key when a position does not fit ``unit`` (fractions in [0, 1], whole steps)."""
    if unit == "fraction" and points[-1][0] > 1:
        raise PipelineError(f"tricks.piecewise_lr.points has position {points[-1][0]!r}, beyond 1, while "
                            "tricks.piecewise_lr.unit = 'fraction'; give fractions of the run in [0, 1], "
                            "or set tricks.piecewise_lr.unit=steps for optimizer steps.")
    if unit == "steps" and (bad := [p for p, _ in points if not isinstance(p, int)]):
        raise PipelineError(f"tricks.piecewise_lr.points has position {bad[0]!r} while tricks.piecewise_lr.unit = 'steps'; "
                            "give whole optimizer steps, or set tricks.piecewise_lr.unit=fraction for fractions of the run.")


SETTINGS = {
    "points": Setting([[0.1, 1.0], [0.5, 1.0], [1.0, 0.1]], "[position, learning-rate multiplier] pairs; linear in between",
                      kinds=(list,), check=lambda v: as_points(v) is not None,
                      expect="a non-empty list of [position, multiplier] pairs with distinct positions ≥ 0 and multipliers ≥ 0, such as [[0.1, 1], [1.0, 0.1]]"),
    "unit": Setting("fraction", "positions are fractions of the run's optimizer steps, or optimizer steps",
                    choices=("fraction", "steps")),
}


def _load():
    from plugins.tricks.piecewise_lr_impl import PiecewiseLr

    return PiecewiseLr()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("piecewise_lr", "piecewise-linear learning-rate schedule given as points", _load, SETTINGS, order=80)]
