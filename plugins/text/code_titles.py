"""Dataset ``code_titles``: the standard library's documented functions as article → title pairs,
read with :mod:`ast` from the interpreter's own source files, as ``docstring_titles`` reads them
(nothing is imported or downloaded).

The article is a function's source from its ``def`` to the end of its last line (decorators left
out), with every docstring inside it removed (its own and those of nested functions and classes)
and whitespace runs collapsed to one space: comments stay. The title is the docstring's summary
line. Characters are the tokens; prepare cuts an article at ``data.length`` and a title at
``data.title_length``.

Pairs that encode to the same rows (the same article and title as cut to those lengths) are kept
once, the first in corpus order, before the split, so no test pair is a training pair: the standard
library repeats some code with its docstring (``bz2`` and ``lzma`` share their file methods,
``chunk`` and ``wave`` theirs; 60 of Python 3.11's 6,125 pairs are repeats). Equal titles of
different code stay. Each pair is a :class:`~plugins.text.docstrings.Docstring` whose ``body`` is
the code, so the fingerprint saved with the prepared data is made as ``docstring_titles``' is (the
Python version and a digest of the pairs).
"""

from __future__ import annotations

import ast
import io
import tokenize
from functools import lru_cache

from plugins.text.docstrings import Docstring, capped, fingerprint, source_files

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def functions_of(source: bytes | str, module: str) -> list[Docstring]:
    """``Docstring(module, summary line, code)`` of every documented function or method of
    ``source``, in :func:`ast.walk` order; a source that does not parse gives none."""
    try:
        if isinstance(source, bytes):  # by its coding line or BOM, as Python reads it
            source = source.decode(tokenize.detect_encoding(io.BytesIO(source).readline)[0])
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # a deliberately broken file among the sources
        return []
    data = source.encode()  # the text's own UTF-8: what ast's columns count
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(line: int, column: int) -> int:
        return starts[line - 1] + column

    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        text = ast.get_docstring(node, clean=True)
        if not text or not text.strip():
            continue
        start = offset(node.lineno, node.col_offset)
        pieces, at = [], start
        for doc in _docstring_nodes(node):
            pieces.append(data[at : offset(doc.lineno, doc.col_offset)])
            at = offset(doc.end_lineno, doc.end_col_offset)
        pieces.append(data[at : starts[node.end_lineno]])  # to its last line's end: its comment
        code = " ".join(b" ".join(pieces).decode(errors="replace").split())
        summary = " ".join(text.strip().splitlines()[0].split())
        found.append(Docstring(module, summary, code))
    return found


def _docstring_nodes(function: ast.AST) -> list[ast.Expr]:
    """The docstring statements of ``function`` and of every definition nested in it, in source
    order."""
    nodes = [
        node.body[0]
        for node in ast.walk(function)
        if isinstance(node, DEFINITIONS) and ast.get_docstring(node, clean=False) is not None
    ]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset))


@lru_cache(maxsize=None)
def read_functions(modules: tuple[str, ...] = ()) -> tuple[Docstring, ...]:
    """Every documented function of ``modules`` (all top-level modules when empty), in a fixed
    order."""
    found = []
    for path, name in source_files(modules):
        found.extend(functions_of(path.read_bytes(), name))
    return tuple(found)


def distinct_rows(items, length: int, title_length: int) -> list:
    """``items`` without those whose article and title, as encoded at ``length`` and
    ``title_length`` tokens (start and end markers included), repeat an earlier item's."""
    seen, kept = set(), []
    for item in items:
        # Whitespace is collapsed, so "\n" stands for the end marker.
        key = (f"{item.body}\n"[: length - 1], f"{item.summary}\n"[: title_length - 1])
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def load_code_titles(settings):
    """Function code (articles) as token ids, with their docstrings' summary lines (titles) as
    targets; repeated pairs kept once."""
    from pipeline import Examples, Vocab

    items = [d for d in read_functions(tuple(settings["modules"])) if d.summary]
    items = distinct_rows(items, settings["length"], settings["title_length"])
    items = capped(items, settings["examples"])
    vocab = Vocab.build([d.body for d in items] + [d.summary for d in items], settings["min_count"])
    x = vocab.encode([d.body for d in items], settings["length"])
    y = vocab.encode([d.summary for d in items], settings["title_length"])
    return Examples(x, y, vocab.symbols, (), fingerprint(items))
