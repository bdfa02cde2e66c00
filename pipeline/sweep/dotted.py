"""Dotted key paths into nested params: ``optimizer.lr`` names ``params["optimizer"]["lr"]``."""
from __future__ import annotations

from typing import Any, Mapping



class _Remove:
    """The type of :data:`REMOVE`; it pickles as the same singleton, so worker processes recognize it."""

    def __reduce__(self) -> str:
        return "REMOVE"

    def __repr__(self) -> str:
        return "REMOVE"


REMOVE = _Remove()  # a value meaning "delete this key" (a trick toggled off)


def parent(path: str) -> str:
    """``tricks.ema.decay`` → ``tricks.ema``; the empty string for a top-level key."""
    return path.rpartition(".")[0]


def is_mapping(tree: Mapping[str, Any], path: str) -> bool:
    """True when ``path`` (empty: the root) leads to a mapping in ``tree``."""
    node: Any = tree
    for part in filter(None, path.split(".")):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return isinstance(node, Mapping)


def contains(tree: Mapping[str, Any], path: str) -> bool:
    """True when ``path`` names an existing key of ``tree``."""
    head, _, last = path.rpartition(".")
    return is_mapping(tree, head) and last in _node(tree, head)


def lookup(tree: Mapping[str, Any], path: str) -> Any:
    """The value at ``path``; raises KeyError when it does not exist."""
    if not contains(tree, path):
        raise KeyError(path)
    head, _, last = path.rpartition(".")
    return _node(tree, head)[last]


def assign(tree: dict, path: str, value: Any) -> None:
    """Set ``path`` to ``value`` (creating missing sections), or delete it when ``value`` is :data:`REMOVE`."""
    node = tree
    *heads, last = path.split(".")
    for part in heads:
        if not isinstance(node.get(part), dict):
            if value is REMOVE:
                return
            node[part] = {}
        node = node[part]
    if value is REMOVE:
        node.pop(last, None)
    else:
        node[last] = value


def _node(tree: Mapping[str, Any], path: str) -> Any:
    node: Any = tree
    for part in filter(None, path.split(".")):
        node = node[part]
    return node
