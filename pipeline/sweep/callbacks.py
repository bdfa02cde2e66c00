"""Lightning callbacks a trial adds to the train stage: Optuna's pruning callback, watching the right way round."""
from __future__ import annotations

import lightning.pytorch as pl
from typing_extensions import override


class OppositeMonitor(pl.Callback):
    """Hands Optuna's pruning callback the negated monitor, for a validation loss watched for a rising objective.

    Optuna prunes by comparing intermediate values in the study's direction; a trial that
    maximizes the ELBO but watches ``val_loss`` (−ELBO) must report ``-val_loss``. The negated value
    exists only while the wrapped callback reads it, so no history, checkpoint or MLflow sees it.
    """

    def __init__(self, inner: pl.Callback, monitor: str):
        self.inner = inner
        self.monitor = monitor
        self.key = f"-{monitor}"
        inner.monitor = self.key

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Let the wrapped callback check the strategy it runs under."""
        self.inner.on_fit_start(trainer, pl_module)

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report the negated monitor through the wrapped callback, then take it away again."""
        metrics = trainer.callback_metrics
        if self.monitor in metrics:
            metrics[self.key] = -metrics[self.monitor]
        try:
            self.inner.on_validation_end(trainer, pl_module)
        finally:
            metrics.pop(self.key, None)


def pruning_callbacks(trial, space) -> list[pl.Callback]:
    """Callbacks reporting the space's monitor to ``trial`` after each validation (empty without a monitor)."""
    if space.monitor is None:
        return []
    from optuna_integration import PyTorchLightningPruningCallback

    callback = PyTorchLightningPruningCallback(trial, monitor=space.monitor)
    if space.monitor_direction != space.direction:
        return [OppositeMonitor(callback, space.monitor)]
    return [callback]
