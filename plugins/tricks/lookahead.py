"""Trick ``lookahead``: Lookahead (Zhang et al., 2019) around whatever base optimizer is configured.

The base optimizer takes k fast steps; then the slow weights move toward the fast ones,
φ ← φ + α(θ − φ), and the fast weights restart from them, θ ← φ. The slow weights start at the
initial weights and are saved in the optimizer's state, so a resumed run continues the same cycle.
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl

SETTINGS = {
    "k": Setting(5, "fast steps per slow update", kinds=(int,), low=1),
    "alpha": Setting(0.8, "slow step size α (1 = the base optimizer alone)", low=0, high=1, low_open=True),
}


def _load():
    from plugins.tricks.lookahead_impl import LookaheadTrick

    return LookaheadTrick()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("lookahead", "Lookahead: k fast steps, then slow weights move α toward them", _load, SETTINGS, order=60)]
