"""Turns the ``trainer:`` section into a Lightning Trainer, so devices, strategy and nodes are config."""
from __future__ import annotations

import inspect
import sys
from typing import Any, Mapping

import lightning.pytorch as pl

from pipeline.errors import PipelineError

OWNED_BY_PIPELINE = ("callbacks", "logger", "default_root_dir", "enable_checkpointing")


def check_trainer_keys(settings: Mapping[str, Any]) -> None:
    """Refuse keys Lightning's Trainer does not take, or that the pipeline sets itself."""
    accepted = set(inspect.signature(pl.Trainer.__init__).parameters) - {"self"}
    for key in settings:
        if key in OWNED_BY_PIPELINE:
            raise PipelineError(f"trainer.{key} is set by the pipeline and cannot be given in params.yaml.")
        if key not in accepted:
            raise PipelineError(f"trainer.{key} is not an argument of Lightning's Trainer; see `pipeline plugins --help` or the Lightning docs.")


def progress_callbacks() -> tuple[list[pl.Callback], bool]:
    """A rich progress bar in a terminal; no bar when output goes to a file or CI."""
    if sys.stderr.isatty():
        from lightning.pytorch.callbacks import RichProgressBar

        return [RichProgressBar()], True
    return [], False


def build_trainer(settings: Mapping[str, Any], callbacks: list, logger: Any, root_dir: str,
                  extra: Mapping[str, Any] | None = None) -> pl.Trainer:
    """A Trainer with the user's settings, the tricks' extras, and the pipeline's callbacks and logger."""
    check_trainer_keys(settings)
    bar, show_bar = progress_callbacks()
    kwargs = {**settings, **(extra or {})}
    kwargs.setdefault("enable_model_summary", show_bar)
    try:
        return pl.Trainer(**kwargs, callbacks=[*callbacks, *bar], logger=logger, default_root_dir=root_dir,
                          enable_progress_bar=show_bar)
    except (ValueError, TypeError, RuntimeError) as error:  # Lightning's MisconfigurationException is a ValueError
        raise PipelineError(f"Lightning rejected the trainer settings: {error}".rstrip(".") + ".") from error
