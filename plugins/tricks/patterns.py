"""Parameter-name patterns shared by the tricks: shell-style globs such as ``*.bias`` or ``net.0.*``.

Nothing here imports torch, so the settings they describe are checked before any heavy import.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Iterable, Mapping

from pipeline import PipelineError, Setting


def matches(name: str, patterns: Iterable[str]) -> bool:
    """True when ``name`` matches any of ``patterns`` (case-sensitive globs; ``*`` also spans dots)."""
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def first_match(name: str, patterns: Iterable[str]) -> str | None:
    """The first of ``patterns`` that ``name`` matches, or None."""
    return next((pattern for pattern in patterns if fnmatchcase(name, pattern)), None)


def require_matches(key: str, patterns: Iterable[str], names: list[str]) -> None:
    """Raise naming ``key`` when a pattern matches none of the parameter ``names`` (a typo would silently do nothing)."""
    for pattern in patterns:
        if not any(fnmatchcase(name, pattern) for name in names):
            shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
            raise PipelineError(f"{key}: pattern {pattern!r} matches no parameter of this model; its parameters are {shown}.")


def parameter_names(module: Any) -> list[str]:
    """The names of a module's trainable parameters, as the optimizer's param groups list them."""
    return [name for name, param in module.named_parameters() if param.requires_grad]


def _is_number(value: Any, low: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low


def pattern_list(default: list[str], doc: str) -> Setting:
    """A setting holding a list of parameter-name patterns."""
    return Setting(default, doc, kinds=(list,), check=lambda v: all(isinstance(p, str) and p for p in v),
                   expect="a list of parameter-name patterns such as ['*.bias', 'net.0.*']")


def pattern_map(default: Mapping[str, float], doc: str, low: float, low_open: bool = False) -> Setting:
    """A setting mapping parameter-name patterns to a number ``≥ low`` (``> low`` when ``low_open``)."""
    def valid(value: Mapping) -> bool:
        return all(isinstance(k, str) and k and _is_number(v, low) and not (low_open and v == low) for k, v in value.items())

    bound = f"> {low}" if low_open else f"≥ {low}"
    return Setting(default, doc, kinds=(dict,), check=valid,
                   expect=f"a mapping of parameter-name pattern to a number {bound}, such as {{'net.0.*': 0.5}}")
