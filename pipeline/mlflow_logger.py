"""Lightning's MLflow logger, writing the metrics gathered since the last checkpoint in one
batch."""

from __future__ import annotations

import re
import time
from typing import Any, Mapping, Optional

from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import MLFlowLogger
from typing_extensions import override

_INVALID_KEY_CHARS = re.compile("[^a-zA-Z0-9_/. -]+")  # what MLflow accepts in a metric name


class CheckpointBatchedMLFlowLogger(MLFlowLogger):
    """Buffers metrics and writes them with one ``log_batch`` after each checkpoint and at the end.

    Every ``log_batch`` is a database transaction costing milliseconds, and Lightning logs at least
    twice per epoch; on small epochs the plain logger dominated the step time
    (benchmarks/bench_pipeline.py). Writing when ``last.ckpt`` is written keeps MLflow in step with
    what a resumed run continues from.
    """

    def __init__(self, epoch_ends: EpochEnds, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pending: list = []
        self.epoch_ends = epoch_ends  # a callback of the same Trainer

    @override
    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: Optional[int] = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        epoch = metrics.get("epoch")
        self._pending += [
            Metric(
                key=_INVALID_KEY_CHARS.sub("", key),
                value=float(value),
                timestamp=now,
                step=self._step(key, step, epoch),
            )
            for key, value in metrics.items()
            if not isinstance(value, str)
        ]

    def _step(self, key: str, step: Optional[int], epoch: Any) -> int:
        """Epoch-level metrics go on the epoch, so MLflow's default charts are learning curves;
        step-level ones (and ``epoch`` itself, which maps one axis onto the other) on the step."""
        at_epoch_end = self.epoch_ends.reached or key.endswith("_epoch")
        if epoch is None or key == "epoch" or key.endswith("_step") or not at_epoch_end:
            return step or 0
        return int(epoch)

    @rank_zero_only
    def flush(self) -> None:
        """Write every buffered metric now."""
        batch, self._pending = self._pending, []
        for start in range(0, len(batch), 1000):  # MLflow's limit per batch
            self.experiment.log_batch(
                run_id=self.run_id, metrics=batch[start : start + 1000], **self._log_batch_kwargs
            )

    @override
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        self.flush()

    @override
    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        if self._pending:
            self.flush()
        super().finalize(status)


class EpochEnds(Callback):
    """Tells the logger whether Lightning is logging an epoch's end (training or validation)
    rather than a batch: Lightning passes the global step either way."""

    def __init__(self) -> None:
        self.reached = False

    @override
    def on_train_batch_start(self, *args: Any) -> None:
        self.reached = False

    @override
    def on_validation_batch_start(self, *args: Any) -> None:
        self.reached = False

    @override
    def on_train_epoch_end(self, *args: Any) -> None:
        self.reached = True

    @override
    def on_validation_epoch_end(self, *args: Any) -> None:
        self.reached = True
