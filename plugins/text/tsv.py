"""Datasets ``text_tsv`` (``text<TAB>label`` lines) and ``pairs_tsv`` (``article<TAB>title``
lines): the user's own text, from a UTF-8 file at ``data.path``, streamed line by line.

The file is read twice and never held whole: a first pass checks every line and counts the
characters (the vocabulary) and the labels, a second encodes and yields one line at a time, its id
the line number. Blank lines are skipped but counted, so a number names the line in an editor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from pipeline import PipelineError

TEXT_LABEL, ARTICLE_TITLE = "text<TAB>label", "article<TAB>title"


def tsv_sources(settings) -> list[Path]:
    """The file the dataset reads, so a change to it reruns prepare."""
    return [_tsv_path(settings)]


def tsv_rows(settings, columns: str) -> Iterator[tuple[int, str, str]]:
    """The file's non-blank lines as ``(line number, first, second)``, fields stripped; ``columns``
    names them for error messages, e.g. ``"text<TAB>label"``."""
    path = _tsv_path(settings)
    for number, line in _lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise PipelineError(
                f"line {number} of {path} has {len(fields)} tab-separated field(s) "
                f"({line[:40]!r}); every line must be {columns}, both non-empty."
            )
        yield number, fields[0].strip(), fields[1].strip()


def stream_text_tsv(settings):
    """Texts as token ids, labelled by the sorted distinct labels of the file."""
    from pipeline import Stream, Vocab

    found: set[str] = set()

    def texts() -> Iterator[str]:
        for _, text, label in _counted(settings, TEXT_LABEL):
            found.add(label)
            yield text

    vocab = Vocab.build(texts(), settings["min_count"])
    labels = tuple(sorted(found))
    index = {name: i for i, name in enumerate(labels)}

    def examples():
        for number, text, label in tsv_rows(settings, TEXT_LABEL):
            yield str(number), vocab.encode([text], settings["length"])[0], index[label]

    return Stream(examples(), vocab.symbols, labels)


def stream_pairs_tsv(settings):
    """Articles as token ids, with their titles as target token ids (one shared vocabulary)."""
    from pipeline import Stream, Vocab

    texts = (text for _, *pair in _counted(settings, ARTICLE_TITLE) for text in pair)
    vocab = Vocab.build(texts, settings["min_count"])

    def examples():
        for number, article, title in tsv_rows(settings, ARTICLE_TITLE):
            x = vocab.encode([article], settings["length"])[0]
            yield str(number), x, vocab.encode([title], settings["title_length"])[0]

    return Stream(examples(), vocab.symbols)


def _counted(settings, columns: str) -> Iterator[tuple[int, str, str]]:
    """:func:`tsv_rows`, then an error if they were too few to split."""
    rows = 0
    for row in tsv_rows(settings, columns):
        rows += 1
        yield row
    if rows < 3:
        raise PipelineError(
            f"data.path = {str(_tsv_path(settings))!r} holds {rows} {columns} line(s); at least 3 "
            "are needed to fill the train, validation and test splits."
        )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines, numbered from 1, split exactly as ``str.splitlines`` splits the whole
    text (form feeds and Unicode line separators end a line too)."""
    number = 0
    try:
        with open(path, encoding="utf-8") as handle:
            for physical in handle:
                for line in physical.splitlines():
                    number += 1
                    yield number, line
    except UnicodeDecodeError as error:
        raise PipelineError(
            f"data.path = {str(path)!r} is not UTF-8 text ({error.reason})."
        ) from error


def _tsv_path(settings) -> Path:
    if settings["path"] is None:
        raise PipelineError("data.path is not set; this dataset reads a TSV file at that path.")
    path = Path(settings["path"]).expanduser()
    if not path.is_file():
        raise PipelineError(f"data.path = {str(path)!r} is not a file; expected a UTF-8 TSV file.")
    return path
