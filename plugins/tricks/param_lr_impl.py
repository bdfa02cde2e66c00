"""The ``param_lr`` trick: param groups with an ``lr_scale`` per matching pattern."""
from __future__ import annotations

from pipeline import Trick
from plugins.tricks.groups import split_groups
from plugins.tricks.patterns import first_match, parameter_names, require_matches


class ParamLr(Trick):
    """Gives the parameters matching each pattern their own learning-rate multiplier."""

    def check(self, settings, module):
        require_matches("tricks.param_lr.multipliers", settings["multipliers"], parameter_names(module))

    def param_groups(self, settings, groups):
        multipliers = settings["multipliers"]

        def scale(group: dict, pattern: str | None) -> dict:
            if pattern is not None:
                group["lr_scale"] = group.get("lr_scale", 1.0) * multipliers[pattern]
            return group

        return split_groups(groups, lambda name, _: first_match(name, multipliers), scale)
