"""Lightning's MLflow logger, handing the metrics gathered since the last checkpoint to a background
writer in one batch."""

from __future__ import annotations

import re
import time
from typing import Any, Mapping, Optional

from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import MLFlowLogger
from typing_extensions import override

from pipeline.tracking.metric_writer import BackgroundWriter

_INVALID_KEY_CHARS = re.compile("[^a-zA-Z0-9_/. -]+")  # what MLflow accepts in a metric name


class CheckpointBatchedMLFlowLogger(MLFlowLogger):
    """Buffers metrics and queues them for one ``log_batch`` after each checkpoint and at the end;
    a background thread writes them, and ``finalize`` waits until it has.

    Every ``log_batch`` is a database transaction costing milliseconds, and Lightning logs at least
    twice per epoch; on small epochs the plain logger dominated the step time
    (benchmarks/bench_pipeline.py). Writing when ``last.ckpt`` is written keeps MLflow in step with
    what a resumed run continues from, and :meth:`backfill` writes what a killed run left unwritten.
    """

    def __init__(self, epoch_ends: EpochEnds, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._pending: list = []
        self.epoch_ends = epoch_ends  # a callback of the same Trainer
        self._writer = BackgroundWriter(self._write)
        # The store's first failure, e.g. a tracking server gone during training. Training goes
        # on (every epoch's metrics are in the checkpoint); the stage reports it after the fit.
        self.lost: BaseException | None = None

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
        """Queue every buffered metric for writing."""
        batch, self._pending = self._pending, []
        self._writer.submit(batch)

    def _write(self, batch: list) -> None:
        # The writer thread is this logger's asynchrony: a batch it wrote is in the store, whatever
        # MLFLOW_ENABLE_ASYNC_LOGGING says, so finalize's wait and backfill's reading can trust it.
        self.experiment.log_batch(run_id=self.run_id, metrics=batch, synchronous=True)

    @rank_zero_only
    def backfill(self, epochs: Mapping[int, Mapping[str, float]]) -> None:
        """Queue the epoch-level points of ``epochs`` ({epoch: {metric: value}}) that the run
        lacks: those a killed run had logged but not yet written."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = {
            epoch: {_INVALID_KEY_CHARS.sub("", key): value for key, value in row.items()}
            for epoch, row in epochs.items()
        }
        keys = {key for row in rows.values() for key in row}
        written = {
            key: {m.step for m in self.experiment.get_metric_history(self.run_id, key)}
            for key in keys
        }
        self._writer.submit(
            [
                Metric(key=key, value=value, timestamp=now, step=epoch)
                for epoch, row in sorted(rows.items())
                for key, value in row.items()
                if epoch not in written[key]
            ]
        )

    @override
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        super().after_save_checkpoint(checkpoint_callback)
        self.flush()

    @override
    @rank_zero_only
    def finalize(self, status: str = "success") -> None:
        self.flush()
        try:
            self._writer.wait()
        except Exception as error:  # the store went away: nothing more is sent to it
            self.lost = error
            return
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
