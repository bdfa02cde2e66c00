"""Declared settings: each component lists its settings with defaults and limits, and one validator
checks them.

A component (model family, dataset, trick, or a core section such as ``trainer``) describes its
settings as a mapping of name to :class:`Setting`. :func:`validate_section` checks a user's section
of params.yaml against it and fills in defaults, raising one clear :class:`PipelineError` naming the
key path on the first problem. Nothing here imports torch, so params are checked before any heavy
import.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from pipeline.errors import PipelineError

_KIND_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


@dataclass(frozen=True)
class Setting:
    """One setting: its default, what types it takes, and an optional range or choice list.

    - ``default``: the value when params.yaml leaves the setting out; its type is the accepted
      type unless ``kinds`` says otherwise (a float default also accepts integers; a None default
      accepts anything).
    - ``doc``: one line for ``pipeline plugins`` and the conf/ files.
    - ``kinds``: the accepted Python types, e.g. ``(int, str, list)``; booleans are never taken for
      numbers.
    - ``low``, ``high``: inclusive bounds for numbers; ``low_open`` / ``high_open`` make a bound
      exclusive, so ``low=0, low_open=True`` means "> 0". NaN and infinities are always refused.
    - ``choices``: the only values allowed (bounds and kinds still apply).
    - ``nullable``: also accept null (None).
    - ``check``: a predicate for what the fields above cannot say (e.g. a list of pairs);
      ``expect`` then describes a valid value in words for the error message.
    """

    default: Any
    doc: str = ""
    kinds: tuple[type, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple | None = None
    nullable: bool = False
    check: Callable[[Any], bool] | None = None
    expect: str = ""

    def accepted_kinds(self) -> tuple[type, ...]:
        """The Python types a value may have; derived from the default unless given."""
        if self.kinds:
            return self.kinds
        kind = type(self.default)
        if kind is float:
            return (float, int)
        if self.default is None:
            return (object,)
        return (kind,)

    def describe(self) -> str:
        """What a valid value looks like, in words."""
        if self.expect:
            return self.expect
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kinds = self.accepted_kinds()
        words = " or ".join(
            _KIND_NAMES.get(k, k.__name__) for k in kinds if k is not int or float not in kinds
        )
        if self.low is not None or self.high is not None:
            left = "(" if self.low_open or self.low is None else "["
            right = ")" if self.high_open or self.high is None else "]"
            low = "-inf" if self.low is None else self.low
            high = "inf" if self.high is None else self.high
            words += f" in {left}{low}, {high}{right}"
        if self.nullable:
            words += " or null"
        return words

    def is_valid(self, value: Any) -> bool:
        """True when ``value`` is acceptable for this setting."""
        if value is None:
            return self.nullable or self.default is None
        if self.choices is not None and value not in self.choices:
            return False
        kinds = self.accepted_kinds()
        if isinstance(value, bool) and bool not in kinds and object not in kinds:
            return False
        if not isinstance(value, kinds):
            return False
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                return False
            if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
                return False
            if self.high is not None and (
                value > self.high or (self.high_open and value == self.high)
            ):
                return False
        if self.check is not None and not self.check(value):
            return False
        return True


def validate_section(
    path: str,
    values: Mapping[str, Any] | None,
    schema: Mapping[str, Setting],
    allow_extra: bool = False,
) -> dict[str, Any]:
    """Check ``values`` against ``schema`` and return them with defaults filled in.

    ``path`` is the dotted key path of the section in params.yaml, used in error messages.
    """
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise PipelineError(f"{path} must be a mapping of settings, got {values!r}.")
    unknown = sorted(set(values) - set(schema))
    if unknown and not allow_extra:
        known = ", ".join(sorted(schema)) or "none"
        raise PipelineError(
            f"{key_path(path, unknown[0])} is not a known "
            f"setting{did_you_mean(unknown[0], schema)}; known settings: {known}."
        )
    result = defaults_of(schema)
    for name, value in values.items():
        setting = schema.get(name)
        if setting is not None and not setting.is_valid(value):
            raise PipelineError(
                f"{key_path(path, name)} = {value!r} is invalid; expected {setting.describe()}."
            )
        result[name] = value
    return result


def key_path(section: str, name: str) -> str:
    """``section.name``, or just ``name`` for a top-level key (section "")."""
    return f"{section}.{name}" if section else str(name)


def did_you_mean(name: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'trainer'?)`` when ``name`` looks like a misspelling of a known name, else
    ``""``."""
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def non_finite_numbers(value: Any, path: str = "") -> Iterable[tuple[str, float]]:
    """Every NaN or infinite number inside ``value`` (nested mappings and lists), with its key
    path."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from non_finite_numbers(item, key_path(path, key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from non_finite_numbers(item, f"{path}[{index}]")


def defaults_of(schema: Mapping[str, Setting]) -> dict[str, Any]:
    """The default value of every setting in ``schema``."""
    return {name: setting.default for name, setting in schema.items()}
