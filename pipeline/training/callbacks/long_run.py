"""One line, after the first epoch, when the rest of the training will take long: a recipe tuned on
small data (500 epochs on 8×8 digits) can run for hours on a user's own, with nothing else saying
so until it ends."""

from __future__ import annotations

import time

import lightning.pytorch as pl
from typing_extensions import override

from pipeline._runtime.duration import duration

LONG = 600.0  # seconds of training still to come that deserve a line


def forecast(seconds_per_epoch: float, epochs_left: int, monitor: str) -> str:
    """The line for ``epochs_left`` epochs at ``seconds_per_epoch`` each."""
    return (
        f"note: at {duration(seconds_per_epoch)} an epoch, the {epochs_left} epochs left take "
        f"about {duration(seconds_per_epoch * epochs_left)}; set trainer.max_epochs lower, or "
        f"selection.patience to stop once {monitor} stops improving."
    )


class LongRunNote(pl.Callback):
    """Times the first epoch this process trains and, when the epochs left at that pace take more
    than ``long`` seconds, says so once (on the first process of a distributed job)."""

    def __init__(self, monitor: str, long: float = LONG):
        self.monitor, self.long = monitor, long
        self.started: float | None = None
        self.said = False

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.started is None:
            self.started = time.monotonic()

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.said or self.started is None or not trainer.is_global_zero:
            return
        self.said = True
        epochs_left = (trainer.max_epochs or 0) - trainer.current_epoch - 1
        seconds = time.monotonic() - self.started
        if epochs_left > 0 and seconds * epochs_left > self.long:
            bar = trainer.progress_bar_callback  # rich shows a print above its live bar
            (bar.print if bar is not None else print)(forecast(seconds, epochs_left, self.monitor))
