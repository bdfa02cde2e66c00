"""Trick ``param_lr``: learning-rate multipliers by parameter-name pattern (0 freezes a parameter).

Each parameter takes the multiplier of the first pattern it matches (in the order written); the
others keep the base rate. Multipliers compose with schedules: a schedule scales every group alike.
The matching parameters get param groups of their own with an ``lr_scale``.
"""

from __future__ import annotations

from pipeline import Trick
from plugins.tricks.groups import split_groups
from plugins.tricks.patterns import matches, parameter_names, patterns_of, require_matches


class ParamLr(Trick):
    """Gives the parameters matching each pattern their own learning-rate multiplier."""

    def check(self, settings, module):
        require_matches(
            "tricks.param_lr.multipliers",
            patterns_of(settings["multipliers"]),
            parameter_names(module),
        )

    def param_groups(self, settings, groups):
        def multiplier(name: str, _) -> float | None:
            return next(
                (value for pattern, value in settings["multipliers"] if matches(name, (pattern,))),
                None,
            )

        def scale(group: dict, value: float | None) -> dict:
            return (
                group
                if value is None
                else {**group, "lr_scale": group.get("lr_scale", 1.0) * value}
            )

        return split_groups(groups, multiplier, scale)
