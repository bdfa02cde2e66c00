"""Datasets ``text_tsv`` (``text<TAB>label`` lines) and ``pairs_tsv`` (``article<TAB>title``
lines): the user's own text, from a UTF-8 file at ``data.path``."""

from __future__ import annotations

from pathlib import Path

from pipeline import PipelineError


def tsv_sources(settings) -> list[Path]:
    """The file the dataset reads, so a change to it reruns prepare."""
    return [_tsv_path(settings)]


def read_tsv(settings, columns: str) -> list[tuple[str, str]]:
    """The file's rows as ``(first, second)`` pairs; ``columns`` names them for error messages,
    e.g. ``"text<TAB>label"``."""
    path = _tsv_path(settings)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise PipelineError(
            f"data.path = {str(path)!r} is not UTF-8 text ({error.reason})."
        ) from error
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise PipelineError(
                f"line {number} of {path} has {len(fields)} tab-separated field(s) "
                f"({line[:40]!r}); every line must be {columns}, both non-empty."
            )
        rows.append((fields[0].strip(), fields[1].strip()))
    if len(rows) < 3:
        raise PipelineError(
            f"data.path = {str(path)!r} holds {len(rows)} {columns} line(s); at least 3 are needed "
            "to fill the train, validation and test splits."
        )
    return rows


def load_text_tsv(settings):
    """Texts as token ids, labelled by the sorted distinct labels of the file."""
    import numpy as np

    from pipeline.data import Examples
    from pipeline.text import Vocab

    rows = read_tsv(settings, "text<TAB>label")
    labels = tuple(sorted({label for _, label in rows}))
    index = {name: i for i, name in enumerate(labels)}
    vocab = Vocab.build((text for text, _ in rows), settings["min_count"])
    x = vocab.encode([text for text, _ in rows], settings["length"])
    y = np.array([index[label] for _, label in rows], dtype=np.int64)
    return Examples(x, y, vocab.symbols, labels)


def load_pairs_tsv(settings):
    """Articles as token ids, with their titles as target token ids (one shared vocabulary)."""
    from pipeline.data import Examples
    from pipeline.text import Vocab

    rows = read_tsv(settings, "article<TAB>title")
    vocab = Vocab.build([a for a, _ in rows] + [t for _, t in rows], settings["min_count"])
    x = vocab.encode([article for article, _ in rows], settings["length"])
    y = vocab.encode([title for _, title in rows], settings["title_length"])
    return Examples(x, y, vocab.symbols)


def _tsv_path(settings) -> Path:
    if settings["path"] is None:
        raise PipelineError("data.path is not set; this dataset reads a TSV file at that path.")
    path = Path(settings["path"]).expanduser()
    if not path.is_file():
        raise PipelineError(f"data.path = {str(path)!r} is not a file; expected a UTF-8 TSV file.")
    return path
