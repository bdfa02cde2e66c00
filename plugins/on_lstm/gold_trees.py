"""Where the gold tree of a test string comes from, by dataset. Each reader takes the decoded string
alone and gives the tokens the trees are scored over (the character where each starts) and the gold
spans over those tokens: every character of a ``dyck`` string, every Python token of a
``python_expressions`` string (the character LM reads it; a token's distance is the one of the step
that reads its first character)."""

from __future__ import annotations

from typing import Callable, NamedTuple

from plugins.on_lstm.parse import Span
from plugins.text.expressions import token_spans
from plugins.text.generated import bracket_spans


class GoldTree(NamedTuple):
    """The tokens of one string (where each starts) and its gold spans over them."""

    starts: list[int]
    spans: list[Span]


def bracket_tree(text: str) -> GoldTree:
    """Every character is a token; the gold spans are the matched bracket pairs."""
    return GoldTree(list(range(len(text))), bracket_spans(text))


def expression_tree(text: str) -> GoldTree:
    """Python tokens; the gold spans are the expression's syntax nodes (none when it does not
    parse)."""
    return GoldTree(*token_spans(text))


GOLD_TREES: dict[str, Callable[[str], GoldTree]] = {
    "dyck": bracket_tree,
    "python_expressions": expression_tree,
}


def gold_trees_of(dataset: str) -> Callable[[str], GoldTree]:
    """The gold-tree reader of ``dataset``; the bracket pairs of any other dataset's text."""
    return GOLD_TREES.get(dataset, bracket_tree)
