"""Datasets ``docstrings``, ``docstring_titles`` and ``docstring_words``: the docstrings of the
Python standard library, read with :mod:`ast` from the interpreter's own source files (nothing is
imported or downloaded).

Each documented function, class and method gives a triple (body, summary line, top-level module):
``docstrings`` is the summary line labelled by its module, for conditional language models and
classifiers; ``docstring_titles`` is body → summary line, an article → title task;
``docstring_words`` is the whole docstring as lowercased words labelled by its module: documents for
word and document embeddings. The same Python version gives the same corpus; its fingerprint
(version and a digest of the triples) is saved with the prepared data.
"""

from __future__ import annotations

import ast
import hashlib
import platform
import re
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline import PipelineError

SKIPPED_FOLDERS = frozenset(
    {
        "test",
        "tests",
        "idlelib",
        "lib2to3",
        "site-packages",
        "dist-packages",
        "ensurepip",
        "turtledemo",
        "__pycache__",
    }  # fmt: skip
)


@dataclass(frozen=True)
class Docstring:
    """One documented definition: its module, summary line and the rest of its docstring."""

    module: str
    summary: str
    body: str


def stdlib_folder() -> Path:
    """Where this interpreter's standard library sources are."""
    return Path(sysconfig.get_paths()["stdlib"])


def top_level_modules() -> list[str]:
    """Every top-level module or package of the standard library that the corpus reads."""
    names = set()
    for path in stdlib_folder().iterdir():
        if path.name in SKIPPED_FOLDERS:
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").is_file()):
            names.add(path.name.removesuffix(".py"))
    return sorted(names)


def source_files(modules: tuple[str, ...] = ()) -> list[tuple[Path, str]]:
    """``(path, top-level module)`` of every source file of ``modules`` (all top-level modules
    when empty), in a fixed order; an unknown module name is refused."""
    root = stdlib_folder()
    unknown = sorted(set(modules) - set(top_level_modules()))
    if unknown:
        raise PipelineError(
            f"data.modules names {unknown}, not top-level modules of this Python's standard "
            f"library; valid names include {top_level_modules()[:12]}…"
        )
    found = []
    for name in modules or top_level_modules():
        package = root / name
        files = sorted(package.rglob("*.py")) if package.is_dir() else [root / f"{name}.py"]
        found.extend(
            (path, name)
            for path in files
            if not SKIPPED_FOLDERS.intersection(path.relative_to(root).parts)
        )
    return found


@lru_cache(maxsize=None)
def read_corpus(modules: tuple[str, ...] = ()) -> tuple[Docstring, ...]:
    """Every docstring of ``modules`` (all top-level modules when empty), in a fixed order."""
    found = []
    for path, name in source_files(modules):
        found.extend(_docstrings_of(path, name))
    return tuple(found)


def _docstrings_of(path: Path, module: str) -> list[Docstring]:
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError):  # a deliberately broken file among the sources
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = ast.get_docstring(node, clean=True)
            if text and text.strip():
                lines = text.strip().splitlines()
                summary = " ".join(lines[0].split())
                body = " ".join(" ".join(lines[1:]).split())
                found.append(Docstring(module, summary, body))
    return found


def fingerprint(items) -> str:
    """The Python version and a digest of the corpus, e.g. ``python 3.11.7 sha256:1f2e…``."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.module}\t{item.summary}\t{item.body}\n".encode())
    return f"python {platform.python_version()} sha256:{digest.hexdigest()[:16]}"


def load_docstrings(settings):
    """Summary lines as token ids, labelled by their module (the order of ``data.modules``)."""
    from pipeline import Examples, Vocab

    modules = tuple(settings["modules"])
    items = [d for d in read_corpus(modules) if d.summary]
    items = capped(items, settings["examples"])
    vocab = Vocab.build((d.summary for d in items), settings["min_count"])
    labels = modules or tuple(sorted({d.module for d in items}))
    index = {name: i for i, name in enumerate(labels)}
    import numpy as np

    x = vocab.encode([d.summary for d in items], settings["length"])
    y = np.array([index[d.module] for d in items], dtype=np.int64)
    return Examples(x, y, vocab.symbols, labels, fingerprint(items))


def load_docstring_titles(settings):
    """Docstring bodies (articles) as token ids, with their summary lines (titles) as targets."""
    from pipeline import Examples, Vocab

    items = [d for d in read_corpus(tuple(settings["modules"])) if d.summary and d.body]
    items = capped(items, settings["examples"])
    texts = [d.body for d in items] + [d.summary for d in items]
    vocab = Vocab.build(texts, settings["min_count"])
    x = vocab.encode([d.body for d in items], settings["length"])
    y = vocab.encode([d.summary for d in items], settings["title_length"])
    return Examples(x, y, vocab.symbols, (), fingerprint(items))


WORD = re.compile(r"[a-z][a-z0-9_]*")


def words_of(text: str) -> list[str]:
    """The lowercased words of ``text``: runs of letters, digits and underscores that start with a
    letter (so identifiers stay whole and numbers and punctuation fall away)."""
    return WORD.findall(text.lower())


def load_docstring_words(settings):
    """Whole docstrings (summary line and body) as word ids, labelled by their module: documents for
    word and document embeddings."""
    import numpy as np

    from pipeline import Examples, Vocab

    modules = tuple(settings["modules"])
    items = [d for d in read_corpus(modules) if words_of(d.summary)]
    items = capped(items, settings["examples"])
    documents = [words_of(f"{d.summary} {d.body}") for d in items]
    vocab = Vocab.build(documents, settings["min_count"])
    labels = modules or tuple(sorted({d.module for d in items}))
    index = {name: i for i, name in enumerate(labels)}
    x = vocab.encode(documents, settings["length"])
    y = np.array([index[d.module] for d in items], dtype=np.int64)
    return Examples(x, y, vocab.symbols, labels, fingerprint(items))


def capped(items: list, examples: int) -> list:
    """The first ``examples`` items of a seeded shuffle (all, in corpus order, when 0)."""
    if not examples or examples >= len(items):
        return items
    import numpy as np

    keep = np.sort(np.random.default_rng(0).permutation(len(items))[:examples])
    return [items[i] for i in keep]
