"""Keeps every epoch's epoch-level metrics in the checkpoint, writes them to CSVs that ``dvc plots``
draws, and hands them to the MLflow logger on resume."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from pipeline._runtime.atomic_file import write_atomically


class EpochHistory(pl.Callback):
    """After each epoch, records the logged epoch metrics (exact values, under the names the logger
    received); whenever a checkpoint is saved, and when training ends, rewrites ``path`` with every
    epoch so far, and ``curves/METRIC.csv`` beside it with each metric's own column.

    Each family logs different metrics; ``dvc plots`` draws whatever the ``curves`` folder holds,
    whereas a curve named in ``dvc.yaml`` is an error for a family without that column.

    The record is the checkpointed history of the run. MLflow is written from a background thread
    and a kill (or a tracking server gone) can take its last points with it, so at the start of a
    resumed fit the logger's ``backfill`` gets every recorded epoch and writes what its run lacks.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.curves = self.path.parent / "curves"
        self.logged: dict[int, dict[str, float]] = {}

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Also when the checkpoint holds the last epoch and the fit trains nothing: its CSVs and
        # the run's metrics are then written from the record alone.
        if not self.logged or not trainer.is_global_zero:
            return
        self._write()
        backfill = getattr(trainer.logger, "backfill", None)
        if callable(backfill):
            backfill(self.logged)

    @property
    def last(self) -> dict[str, float]:
        """The last recorded epoch's metrics, under the names the logger received."""
        return dict(self.logged[max(self.logged)]) if self.logged else {}

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        self.logged[trainer.current_epoch] = {
            key: float(value)
            for key, value in trainer.callback_metrics.items()
            if not key.endswith("_step")
        }

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if trainer.is_global_zero and self.logged:
            self._write()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and self.logged:
            self._write()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self.on_train_end(trainer, pl_module)

    @property
    def rows(self) -> list[dict[str, float]]:
        """One CSV row per epoch: ``epoch`` and each metric, ``_epoch`` suffixes dropped."""
        return [
            {"epoch": epoch}
            | {key.removesuffix("_epoch"): round(value, 6) for key, value in sorted(row.items())}
            for epoch, row in sorted(self.logged.items())
        ]

    def _write(self) -> None:
        rows = self.rows
        columns = list(dict.fromkeys(k for row in rows for k in row))
        _write_csv(self.path, columns, rows)
        for metric in columns[1:]:
            curve = [{"epoch": r["epoch"], metric: r[metric]} for r in rows if metric in r]
            _write_csv(self.curves / f"{metric}.csv", ["epoch", metric], curve)

    def state_dict(self) -> dict[str, Any]:
        return {"logged": self.logged}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.logged = {int(e): dict(row) for e, row in state_dict.get("logged", {}).items()}


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, float]]) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)

    write_atomically(path, write)
