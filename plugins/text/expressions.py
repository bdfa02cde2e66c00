"""Dataset ``python_expressions``: expressions cut from the Python standard library's own source
files, read with :mod:`ast` (nothing is imported or downloaded), whose gold trees are their syntax.

Each file's syntax tree is walked from the top; the first expression on a path down that fits (one
line, ASCII, ``min_length`` to ``max_length`` characters, at least one sub-expression of two
characters or more, no f-string) is kept and not entered, so the kept strings are the largest
expressions that fit and none is part of another from the same place. Duplicates keep their first
place in (module, file, source) order. The gold tree of a string is read back from the string
itself (:func:`expression_spans`), so any text the model is scored on carries its own gold;
:func:`token_starts` gives the Python tokens it is scored over.
"""

from __future__ import annotations

import ast
import hashlib
import io
import platform
import tokenize
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path

from pipeline import PipelineError
from plugins.text.docstrings import source_files

Span = tuple[int, int]
SKIPPED_TOKENS = frozenset(
    {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
)


def expression_spans(text: str) -> list[Span]:
    """Every ``(start, end)`` character span (end exclusive) of an expression node of ``text``
    parsed as one Python expression: the whole, each sub-expression, keyword argument (``key=v``)
    and lambda parameter, sorted and without repeats (``(x)`` and ``x`` share one). A text that is
    not one single-line ASCII expression has no gold tree: ``[]``."""
    if not text.isascii() or "\n" in text:
        return []
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return []
    return sorted(
        {
            (node.col_offset, node.end_col_offset)
            for node in ast.walk(tree.body)
            if isinstance(node, (ast.expr, ast.keyword, ast.arg))
        }
    )


def token_starts(text: str) -> list[int]:
    """Where each Python token of ``text`` starts (names, numbers, strings and operators; spaces
    are no token): every span of :func:`expression_spans` starts at one and ends at one's end.
    ``[]`` when ``text`` does not tokenize."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return []
    return [t.start[1] for t in tokens if t.type not in SKIPPED_TOKENS and t.start[0] == 1]


def token_spans(text: str) -> tuple[list[int], list[Span]]:
    """The tokens of ``text`` (:func:`token_starts`) and its gold spans over them: ``(first token,
    one past the last)`` of each span of :func:`expression_spans`."""
    starts = token_starts(text)
    spans = {(bisect_left(starts, a), bisect_left(starts, b)) for a, b in expression_spans(text)}
    return starts, sorted(spans)


def has_structure(text: str) -> bool:
    """Whether ``text``'s gold tree holds a span of two tokens or more below the whole."""
    starts, spans = token_spans(text)
    return any(b - a > 1 and (a, b) != (0, len(starts)) for a, b in spans)


@lru_cache(maxsize=None)
def read_expressions(modules: tuple[str, ...], min_length: int, max_length: int) -> tuple[str, ...]:
    """The distinct largest expressions of ``min_length`` to ``max_length`` characters in the
    sources of ``modules`` (every top-level module when empty), in a fixed order."""
    if min_length > max_length:
        raise PipelineError(
            f"data.min_length = {min_length} is above data.max_length = {max_length}; no "
            "expression fits."
        )
    found: dict[str, None] = {}
    for path, _ in source_files(modules):
        for text in _expressions_of(path, min_length, max_length):
            found.setdefault(text)
    return tuple(found)


def _expressions_of(path: Path, min_length: int, max_length: int) -> list[str]:
    try:
        source = path.read_bytes()
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # a deliberately broken file among the sources
        return []
    lines = source.splitlines()
    found: list[str] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        text = _text_of(node, lines) if isinstance(node, ast.expr) else None
        if text is not None and _fits(text, min_length, max_length):
            found.append(text)
            continue
        todo.extend(reversed(list(ast.iter_child_nodes(node))))  # source order
    return found


def _text_of(node: ast.expr, lines: list[bytes]) -> str | None:
    """The source of a one-line expression (positions are UTF-8 byte offsets), else None."""
    if node.lineno != node.end_lineno:
        return None
    line = lines[node.lineno - 1]
    try:
        return line[node.col_offset : node.end_col_offset].decode("ascii")
    except UnicodeDecodeError:
        return None


def _fits(text: str, min_length: int, max_length: int) -> bool:
    return (
        min_length <= len(text) <= max_length
        and text.isprintable()
        and has_structure(text)
        and not any(isinstance(n, ast.JoinedStr) for n in ast.walk(ast.parse(text, mode="eval")))
    )


def fingerprint(texts) -> str:
    """The Python version and a digest of the expressions, e.g. ``python 3.11.7 sha256:1f2e…``."""
    digest = hashlib.sha256("\n".join(texts).encode())
    return f"python {platform.python_version()} sha256:{digest.hexdigest()[:16]}"


def load_python_expressions(settings):
    """The expressions as character ids (no labels); every character gets its own token, so each
    test string decodes to itself and its gold tree."""
    import numpy as np

    from pipeline import Examples, Vocab

    texts = list(
        read_expressions(tuple(settings["modules"]), settings["min_length"], settings["max_length"])
    )
    if settings["examples"] and settings["examples"] < len(texts):
        rng = np.random.default_rng(settings["seed"])
        texts = [texts[i] for i in np.sort(rng.permutation(len(texts))[: settings["examples"]])]
    vocab = Vocab.build(texts)
    x = vocab.encode(texts, settings["max_length"] + 2)
    return Examples(x, np.zeros(len(texts), dtype=np.int64), vocab.symbols, (), fingerprint(texts))
