"""Trick ``grad_transform``: transform gradients per parameter before every optimizer step.

Three transforms, applied in this order to the (accumulated) gradients, each to the parameters whose
names match its patterns: ``zero`` sets gradients to zero, ``clip_value`` clamps every element to
[−v, v], ``clip_norm`` rescales gradients whose L2 norm exceeds the threshold (direction kept) —
each parameter on its own (``norm_per: parameter``) or the parameters of one pattern jointly
(``norm_per: pattern``). Parameters matched by no pattern keep their gradients bit for bit.
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl
from plugins.tricks.patterns import pattern_list, pattern_pairs

SETTINGS = {
    "clip_norm": pattern_pairs([["*", 1.0]], "[pattern, largest gradient L2 norm] pairs", low=0, low_open=True),
    "norm_per": Setting("parameter", "clip each matching parameter's norm alone, or one pattern's parameters jointly",
                        choices=("parameter", "pattern")),
    "clip_value": pattern_pairs([], "[pattern, largest absolute gradient element] pairs", low=0, low_open=True),
    "zero": pattern_list([], "parameter-name patterns whose gradients are set to zero"),
}


def _load():
    from plugins.tricks.grad_transform_impl import GradTransform

    return GradTransform()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("grad_transform", "per-parameter gradient transforms: norm clip, value clip, zeroing",
                      _load, SETTINGS, order=40)]
