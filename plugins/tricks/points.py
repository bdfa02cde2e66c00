"""Schedule points for ``piecewise_lr``: ``[position, multiplier]`` pairs, parsed and checked.

Nothing here imports torch, so the trick's settings are checked before any heavy import.
"""

from __future__ import annotations

from typing import Any

from pipeline import PipelineError
from plugins.tricks.patterns import is_number


def as_points(value: Any) -> list[tuple[float, float]] | None:
    """The schedule as (position, multiplier) pairs sorted by position, or None if ``value`` is not
    a valid schedule."""
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
    """Raise naming the key when a position does not fit ``unit`` (fractions in [0, 1], whole
    steps)."""
    if unit == "fraction" and points[-1][0] > 1:
        raise PipelineError(
            f"tricks.piecewise_lr.points has position {points[-1][0]!r}, beyond 1, "
            "while tricks.piecewise_lr.unit = 'fraction'; give fractions of the "
            "run in [0, 1], or set tricks.piecewise_lr.unit=steps for optimizer steps."
        )
    if unit == "steps" and (bad := [p for p, _ in points if not isinstance(p, int)]):
        raise PipelineError(
            f"tricks.piecewise_lr.points has position {bad[0]!r} while "
            "tricks.piecewise_lr.unit = 'steps'; give whole optimizer steps, or "
            "set tricks.piecewise_lr.unit=fraction for fractions of the run."
        )
