"""Writes epoch-level metrics to CSVs that ``dvc plots`` draws; their rows survive
checkpoint/resume."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import lightning.pytorch as pl


class EpochHistory(pl.Callback):
    """After each epoch, appends the logged epoch metrics and rewrites ``path`` with every row so
    far, and ``curves/METRIC.csv`` beside it with each metric's own column.

    Each family logs different metrics; ``dvc plots`` draws whatever the ``curves`` folder holds,
    whereas a curve named in ``dvc.yaml`` is an error for a family without that column.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.curves = self.path.parent / "curves"
        self.rows: list[dict[str, float]] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        row = {"epoch": trainer.current_epoch}
        for key, value in sorted(trainer.callback_metrics.items()):
            if not key.endswith("_step"):
                row[key.removesuffix("_epoch")] = round(float(value), 6)
        self.rows = [r for r in self.rows if r["epoch"] != row["epoch"]] + [row]
        self._write()

    def _write(self) -> None:
        columns = list(dict.fromkeys(k for row in self.rows for k in row))
        _write_csv(self.path, columns, self.rows)
        for metric in columns[1:]:
            rows = [{"epoch": r["epoch"], metric: r[metric]} for r in self.rows if metric in r]
            _write_csv(self.curves / f"{metric}.csv", ["epoch", metric], rows)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.rows = list(state_dict.get("rows", []))


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, float]]) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)
