"""Splitting optimizer param groups by a per-parameter key, shared by the tricks that set group
options."""

from __future__ import annotations

from typing import Any, Callable


def split_groups(
    groups: list[dict], key_of: Callable[[str, Any], Any], apply: Callable[[dict, Any], dict]
) -> list[dict]:
    """Split each group so its parameters share ``key_of(name, param)``; ``apply(group, key)`` sets
    the
    new group's options. Parameter order inside a key is kept and empty groups are dropped."""
    result = []
    for group in groups:
        buckets: dict[Any, tuple[list, list]] = {}
        for name, param in zip(group["names"], group["params"], strict=True):
            params, names = buckets.setdefault(key_of(name, param), ([], []))
            params.append(param)
            names.append(name)
        for key, (params, names) in buckets.items():
            result.append(apply({**group, "params": params, "names": names}, key))
    return result
