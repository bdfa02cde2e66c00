"""Parameter-name patterns shared by the tricks: shell-style globs such as ``*.bias`` or
``net.0.*``.

Nothing here imports torch, so the settings they describe are checked before any heavy import.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Iterable

from pipeline import PipelineError, Setting


def matches(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches any of ``patterns`` (case-sensitive globs; ``*`` also spans
    dots)."""
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def require_matches(key: str, patterns: Iterable[str], names: list[str]) -> None:
    """Raise naming ``key`` when a pattern matches none of the parameter ``names`` (a typo would
    silently do nothing)."""
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name in names):
            shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
            raise PipelineError(
                f"{key}: pattern {pattern!r} matches no parameter of this model; its parameters "
                "are "
                f"{shown}."
            )


def parameter_names(module: Any) -> list[str]:
    """The names of a module's trainable parameters, as the optimizer's param groups list them."""
    return [name for name, param in module.named_parameters() if param.requires_grad]


def is_number(value: Any, low: float, low_open: bool = False) -> bool:
    """True for an int or float (not a bool) that is ≥ ``low`` (> ``low`` when ``low_open``)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value >= low
        and not (low_open and value == low)
    )


def pattern_list(default: list[str], doc: str) -> Setting:
    """A setting holding a list of parameter-name patterns."""
    return Setting(
        default,
        doc,
        kinds=(list,),
        check=lambda v: all(isinstance(p, str) and p for p in v),
        expect="a list of parameter-name patterns such as ['*.bias', 'net.0.*']",
    )


def pattern_pairs(default: list[list], doc: str, low: float, low_open: bool = False) -> Setting:
    """A setting holding ``[pattern, number]`` pairs, number ≥ ``low`` (> ``low`` when
    ``low_open``).

    Pairs rather than a mapping: Hydra merges a mapping given with ``-S`` into the default one (and
    refuses new keys), while a list given with ``-S`` replaces the default as a whole.
    """

    def valid(value: list) -> bool:
        return all(
            isinstance(pair, (list, tuple))
            and len(pair) == 2
            and isinstance(pair[0], str)
            and pair[0]
            and is_number(pair[1], low, low_open)
            for pair in value
        )

    bound = f"> {low}" if low_open else f"≥ {low}"
    return Setting(
        default,
        doc,
        kinds=(list,),
        check=valid,
        expect=f"a list of [pattern, number {bound}] pairs, such as [['net.0.*', 0.5]]",
    )


def patterns_of(pairs: list) -> list[str]:
    """The patterns of ``[pattern, value]`` pairs, in order."""
    return [pattern for pattern, _ in pairs]
