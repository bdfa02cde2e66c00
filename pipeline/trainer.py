"""Turns the ``trainer:`` section into a Lightning Trainer: devices, strategy, nodes are config."""

from __future__ import annotations

import sys
from typing import Any, Mapping

import lightning.pytorch as pl
from lightning.fabric.utilities.exceptions import MisconfigurationException

from pipeline.errors import PipelineError


def progress_callbacks() -> tuple[list[pl.Callback], bool]:
    """A rich progress bar in a terminal; no bar when output goes to a file or CI."""
    if sys.stderr.isatty():
        from pipeline.progress import FitProgressBar

        return [FitProgressBar()], True
    return [], False


def build_trainer(
    settings: Mapping[str, Any],
    callbacks: list,
    logger: Any,
    root_dir: str | None,
    extra: Mapping[str, Any] | None = None,
) -> pl.Trainer:
    """A Trainer with the user's settings, the tricks' extras, the pipeline's callbacks, logger."""
    kwargs = {**settings, **(extra or {})}
    bar, terminal = progress_callbacks()
    # Settings may switch the bar off (tests do); otherwise it follows the terminal.
    show_bar = kwargs.pop("enable_progress_bar", terminal)
    if kwargs.setdefault("enable_model_summary", show_bar) and show_bar:
        from pipeline.progress import QuietModelSummary

        bar = [*bar, QuietModelSummary()]
    try:
        return pl.Trainer(
            **kwargs,
            callbacks=[*callbacks, *(bar if show_bar else [])],
            logger=logger,
            default_root_dir=root_dir,
            enable_progress_bar=show_bar,
        )
    except (ValueError, TypeError, RuntimeError, MisconfigurationException) as error:
        message = f"Lightning rejected the trainer settings: {error}".rstrip(".") + "."
        raise PipelineError(message) from error
