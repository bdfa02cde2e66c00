"""Turns the ``trainer:`` section into a Lightning Trainer: devices, strategy, nodes are config."""

from __future__ import annotations

import sys
from typing import Any, Mapping

import lightning.pytorch as pl
from lightning.fabric.utilities.exceptions import MisconfigurationException

from pipeline.errors import PipelineError


def build_trainer(
    settings: Mapping[str, Any],
    callbacks: list,
    logger: Any,
    root_dir: str | None,
    extra: Mapping[str, Any] | None = None,
) -> pl.Trainer:
    """A Trainer with the user's settings, the tricks' extras, the pipeline's callbacks, logger.

    In a terminal it shows the whole fit's progress and a model summary; with output going to a
    file or CI, neither. Settings may switch either off (tests do).
    """
    kwargs = {**settings, **(extra or {})}
    terminal = sys.stderr.isatty()
    show_bar = kwargs.pop("enable_progress_bar", terminal)
    summary = kwargs.pop("enable_model_summary", show_bar)
    every = list(callbacks)
    if show_bar and terminal:
        from pipeline.training.callbacks.progress import FitProgressBar

        every.append(FitProgressBar())
    if summary and show_bar:
        from pipeline.training.callbacks.progress import QuietModelSummary

        every.append(QuietModelSummary())
        summary = False  # Lightning's own would be a second summary
    try:
        return pl.Trainer(
            **kwargs,
            callbacks=every,
            logger=logger,
            default_root_dir=root_dir,
            enable_progress_bar=show_bar,
            enable_model_summary=summary,
        )
    except (ValueError, TypeError, RuntimeError, MisconfigurationException) as error:
        message = f"Lightning rejected the trainer settings: {error}".rstrip(".") + "."
        raise PipelineError(message) from error
