"""Turns the ``trainer:`` section into a Lightning Trainer, so devices, strategy and nodes are config."""
from __future__ import annotations

import sys
from typing import Any, Mapping

import lightning.pytorch as pl
from lightning.fabric.utilities.exceptions import MisconfigurationException

from pipeline.errors import PipelineError


def progress_callbacks() -> tuple[list[pl.Callback], bool]:
    """A rich progress bar in a terminal; no bar when output goes to a file or CI."""
    if sys.stderr.isatty():
        from lightning.pytorch.callbacks import RichProgressBar

        return [RichProgressBar()], True
    return [], False


def build_trainer(settings: Mapping[str, Any], callbacks: list, logger: Any, root_dir: str,
                  extra: Mapping[str, Any] | None = None) -> pl.Trainer:
    """A Trainer with the user's settings, the tricks' extras, and the pipeline's callbacks and logger."""
    bar, show_bar = progress_callbacks()
    kwargs = {**settings, **(extra or {})}
    kwargs.setdefault("enable_model_summary", show_bar)
    try:
        return pl.Trainer(**kwargs, callbacks=[*callbacks, *bar], logger=logger, default_root_dir=root_dir,
                          enable_progress_bar=show_bar)
    except (ValueError, TypeError, RuntimeError, MisconfigurationException) as error:
        raise PipelineError(f"Lightning rejected the trainer settings: {error}".rstrip(".") + ".") from error


def probe_trainer(settings: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    """Build (and drop) a Trainer with these settings, so Lightning refuses them before any run is opened."""
    import logging

    quiet = [logging.getLogger(name) for name in ("lightning.pytorch", "lightning.fabric")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:  # the real Trainer prints the device summary; the probe stays silent
        logger.setLevel(logging.WARNING)
    try:
        build_trainer(settings, [], False, None, extra)
    finally:
        for logger, level in zip(quiet, levels):
            logger.setLevel(level)
