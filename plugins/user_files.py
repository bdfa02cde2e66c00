"""Where a dataset of the user's own files finds them: ``data.path``, checked before anything is
read, with one message for every dataset that reads a folder."""

from __future__ import annotations

from pathlib import Path

from pipeline import PipelineError


def user_folder(settings, dataset: str, holding: str) -> Path:
    """The folder at ``data.path``; ``holding`` says what it should hold, e.g. ``"one subfolder of
    images per class"``."""
    if settings["path"] is None:
        raise PipelineError(
            f"data.path is not set; the {dataset} dataset needs the folder holding {holding}."
        )
    folder = Path(settings["path"]).expanduser()
    if not folder.is_dir():
        raise PipelineError(
            f"data.path = {str(folder)!r} is not a folder; expected one holding {holding}."
        )
    return folder
