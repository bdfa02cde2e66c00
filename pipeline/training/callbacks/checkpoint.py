"""``last.ckpt`` at the end of an epoch, at most once every ``checkpoint.seconds`` seconds
of training (default 2), so that on small epochs the bookkeeping that comes with a checkpoint
stays small next to the training.

A save writes the checkpoint (model, optimizer and trick state), and with it the history CSVs
(:class:`pipeline.training.callbacks.history.EpochHistory`) and the MLflow metrics gathered since
the last one
(:class:`pipeline.tracking.mlflow_logger.CheckpointBatchedMLFlowLogger`): together some 25 ms for
the
default classifier, whose whole epoch takes about 100 ms. An epoch of a second or more is saved
every time; shorter ones are grouped, and a kill loses at most that many seconds of training on
top of the interrupted epoch. The first epoch and the last are always saved; 0 saves every epoch.
"""

from __future__ import annotations

import time
from pathlib import Path

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override


class LastCheckpoint(ModelCheckpoint):
    """``dirpath/last.ckpt``, replaced at the end of an epoch when ``interval`` seconds have passed
    since the last save (or it is the run's first or last epoch).

    Every process of a distributed run takes rank zero's decision, since a save is collective.
    """

    def __init__(self, dirpath: Path, interval: float):
        # save_top_k=1 with every_n_epochs=1, not save_last: Lightning 2.6 writes save_last's file
        # only when fit ends, so a killed training would start over.
        super().__init__(
            dirpath=dirpath,
            filename="last",
            save_top_k=1,
            every_n_epochs=1,
            enable_version_counter=False,
        )
        self.interval = interval
        self._saved_at: float | None = None  # this process's clock, so not checkpointed
        self._decision: tuple[int, bool] = (-1, False)  # (epoch, save?)
        self._state_key: str | None = None

    @property
    @override
    def state_key(self) -> str:
        # Lightning names every hook call after it; the parent builds the string from the settings
        # each time (a repr of a dict), which on small steps costs more than this callback's work.
        if self._state_key is None:
            self._state_key = super().state_key
        return self._state_key

    def _due(self, trainer: pl.Trainer) -> bool:
        """Whether this epoch is saved; decided once per epoch (both hooks below ask)."""
        epoch = trainer.current_epoch
        if self._decision[0] != epoch:
            last = trainer.max_epochs is not None and 0 <= trainer.max_epochs <= epoch + 1
            waited = self._saved_at is None or time.monotonic() - self._saved_at >= self.interval
            due = last or waited or trainer.should_stop
            if trainer.world_size > 1:
                due = trainer.strategy.broadcast(due, src=0)
            self._decision = (epoch, due)
            if due:
                self._saved_at = time.monotonic()
        return self._decision[1]

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and self._due(trainer):
            super().on_train_epoch_end(trainer, pl_module)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and self._due(trainer):
            super().on_validation_end(trainer, pl_module)

    @override
    def on_train_batch_end(self, *args, **kwargs) -> None:
        """Nothing: saves happen only at an epoch's end, so Lightning's per-batch check is
        skipped."""
