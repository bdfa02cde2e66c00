"""Lightning's ``EarlyStopping`` as the train stage uses it (``selection.patience``): checked when
validation ends, a metric the family does not log named in one line, and a stop that survives a
kill."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EarlyStopping
from typing_extensions import override

from pipeline.training.callbacks.best_weights import monitored


class StopEarly(EarlyStopping):
    """Stops training once ``monitor`` has not improved for ``patience`` validations in a row.

    The check runs when validation ends, before ``last.ckpt`` is saved at that epoch's end, so the
    checkpoint of the stopping epoch knows training stopped there; a run resumed from it trains no
    further epoch (Lightning's own state keeps the counters but not the decision).
    """

    def __init__(self, monitor: str, mode: str, patience: int):
        super().__init__(
            monitor=monitor, mode=mode, patience=patience, check_on_train_epoch_end=False
        )
        self.stopped = False

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.stopped:  # resumed from the stopping epoch's checkpoint
            trainer.should_stop = True

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if monitored(trainer, self.monitor) is None:  # the sanity check
            return
        super().on_validation_end(trainer, pl_module)
        self.stopped = self.stopped or (
            trainer.should_stop and self.stopped_epoch == trainer.current_epoch
        )

    @override
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "stopped": self.stopped}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self.stopped = bool(state_dict.get("stopped", False))
