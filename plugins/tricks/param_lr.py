"""Trick ``param_lr``: learning-rate multipliers by parameter-name pattern (0 freezes a parameter).

Each parameter takes the multiplier of the first pattern it matches (in the order written); the
others keep the base rate. Multipliers compose with schedules: a schedule scales every group alike.
"""
from __future__ import annotations

from pipeline import TrickSpec, hookimpl
from plugins.tricks.patterns import pattern_pairs

SETTINGS = {"multipliers": pattern_pairs([["*.bias", 2.0]], "[pattern, learning-rate multiplier] pairs; first match wins", low=0)}


def _load():
    from plugins.tricks.param_lr_impl import ParamLr

    return ParamLr()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("param_lr", "learning-rate multipliers by parameter-name pattern (0 freezes)", _load, SETTINGS, order=20)]
