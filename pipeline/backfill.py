"""Every epoch's metrics travel in the checkpoint, so a resumed run can write the ones a killed run
had not yet written to MLflow."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from typing_extensions import override


class EpochMetrics(pl.Callback):
    """Records each epoch's epoch-level metrics (as the logger receives them: exact values, the
    names they were logged under) and keeps them in the checkpoint.

    MLflow is written from a background thread; a kill can take the last points with it. At the
    start of a resumed fit the logger's ``backfill`` gets every recorded epoch and writes what its
    run lacks.
    """

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, float]] = {}

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        backfill = getattr(trainer.logger, "backfill", None)
        if self.epochs and trainer.is_global_zero and callable(backfill):
            backfill(self.epochs)

    @override
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self.epochs[trainer.current_epoch] = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if not key.endswith("_step")
        }

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"epochs": self.epochs}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epochs = {int(e): dict(row) for e, row in state_dict.get("epochs", {}).items()}
