"""Trick ``piecewise_lr``: a piecewise-linear learning-rate schedule given as points (bert4keras' schedule).

``points`` maps an optimizer step to a multiplier of the base learning rate, e.g. ``{1000: 1, 2000: 0.1}``:
the multiplier rises linearly from 0 at step 0 to 1 at step 1000 (a warm-up), falls to 0.1 by step
2000 and stays there. A point at step 0 replaces the implicit start at 0. The schedule is stepped
once per optimizer step (so once per k batches under ``grad_accum``) and is checkpointed.
"""
from __future__ import annotations

from typing import Any

from pipeline import Setting, TrickSpec, hookimpl


def as_points(value: Any) -> list[tuple[int, float]] | None:
    """The schedule as sorted (step, multiplier) pairs, or None if ``value`` is not a valid schedule.
    Step keys may be YAML integers or digit strings (JSON has only string keys)."""
    if not isinstance(value, dict) or not value:
        return None
    points = {}
    for step, multiplier in value.items():
        if isinstance(step, str) and step.isdigit():
            step = int(step)
        if isinstance(step, bool) or not isinstance(step, int) or step < 0 or step in points:
            return None
        if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or multiplier < 0:
            return None
        points[step] = float(multiplier)
    return sorted(points.items())


SETTINGS = {
    "points": Setting({100: 1.0, 400: 0.1}, "optimizer step → learning-rate multiplier; linear in between",
                      kinds=(dict,), check=lambda v: as_points(v) is not None,
                      expect="a non-empty mapping of optimizer step (an integer ≥ 0) to a multiplier ≥ 0, such as {1000: 1, 2000: 0.1}"),
}


def _load():
    from plugins.tricks.piecewise_lr_impl import PiecewiseLr

    return PiecewiseLr()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("piecewise_lr", "piecewise-linear learning-rate schedule given as points", _load, SETTINGS, order=80)]
