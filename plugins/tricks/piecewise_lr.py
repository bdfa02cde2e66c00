"""Trick ``piecewise_lr``: a piecewise-linear learning-rate schedule given as points (bert4keras' schedule).

``points`` lists [optimizer step, multiplier of the base learning rate] pairs, e.g.
``[[1000, 1], [2000, 0.1]]``: the multiplier rises linearly from 0 at step 0 to 1 at step 1000 (a
warm-up), falls to 0.1 by step 2000 and stays there. A point at step 0 replaces the implicit start at
0. Pairs rather than a ``{step: multiplier}`` mapping, because a list given with ``dvc exp run -S``
replaces the default whole, where Hydra would merge a mapping into it. The schedule is stepped once
per optimizer step (so once per k batches under ``grad_accum``) and is checkpointed.
"""
from __future__ import annotations

from typing import Any

from pipeline import Setting, TrickSpec, hookimpl
from plugins.tricks.patterns import is_number


def as_points(value: Any) -> list[tuple[int, float]] | None:
    """The schedule as (step, multiplier) pairs sorted by step, or None if ``value`` is not a valid schedule."""
    if not isinstance(value, list) or not value:
        return None
    points: dict[int, float] = {}
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            return None
        step, multiplier = pair
        if not is_number(step, 0) or not isinstance(step, int) or step in points or not is_number(multiplier, 0):
            return None
        points[step] = float(multiplier)
    return sorted(points.items())


SETTINGS = {
    "points": Setting([[100, 1.0], [400, 0.1]], "[optimizer step, learning-rate multiplier] pairs; linear in between",
                      kinds=(list,), check=lambda v: as_points(v) is not None,
                      expect="a non-empty list of [step, multiplier] pairs with distinct integer steps ≥ 0 and multipliers ≥ 0, such as [[1000, 1], [2000, 0.1]]"),
}


def _load():
    from plugins.tricks.piecewise_lr_impl import PiecewiseLr

    return PiecewiseLr()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("piecewise_lr", "piecewise-linear learning-rate schedule given as points", _load, SETTINGS, order=80)]
