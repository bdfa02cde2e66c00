"""The terminal's view of a fit: one bar for the epoch, one for the whole fit with its ETA, and the
model summary without the rows that say nothing."""

from __future__ import annotations

import sys
from typing import Any

from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from rich.table import Column
from typing_extensions import override

# Columns left of the metrics: description, the 40-column bar, batches, times, speed, padding.
BARS_WIDTH = 96


class FitProgressBar(RichProgressBar):
    """Lightning's rich bar plus a bar over all epochs' batches, fitted to the terminal's width."""

    def __init__(self) -> None:
        super().__init__()
        self.fit_bar_id = None

    @override
    def _init_progress(self, trainer) -> None:
        super()._init_progress(trainer)
        if self._metric_component is not None and self._console is not None:
            # The metrics get what the bars leave of the line and are cut there, not wrapped.
            room = max(self._console.width - BARS_WIDTH, 10)
            self._metric_component._table_column = Column(
                no_wrap=True, overflow="ellipsis", max_width=room
            )

    @override
    def _reset_progress_bar_ids(self) -> None:
        super()._reset_progress_bar_ids()
        self.fit_bar_id = None

    @override
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        total = self._fit_batches(trainer)
        if self.progress is None or total is None:
            return
        if self.fit_bar_id is None:
            self.fit_bar_id = self._add_task(total, "Fit")
        self._update_fit(trainer, 0)

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._update_fit(trainer, batch_idx + 1)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    @override
    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the MLflow run id's tail; the summary names the whole id
        return items

    def _update_fit(self, trainer, done_in_epoch: int) -> None:
        if self.progress is not None and self.fit_bar_id is not None:
            done = trainer.current_epoch * self.total_train_batches + done_in_epoch
            self.progress.update(self.fit_bar_id, completed=done)

    def _fit_batches(self, trainer) -> float | None:
        """Batches in the whole fit, or None when the fit's length is not known."""
        epochs, per_epoch = trainer.max_epochs, self.total_train_batches
        if epochs is None or epochs < 0 or per_epoch in (0, float("inf")):
            return None
        return epochs * per_epoch


class QuietModelSummary(RichModelSummary):
    """Lightning's rich model summary without the "Total FLOPs: 0" line (FLOPs are not counted)."""

    @override
    def summarize(
        self,
        summary_data,
        total_parameters: int,
        trainable_parameters: int,
        model_size: float,
        total_training_modes,
        total_flops: int,
        **summarize_kwargs: Any,
    ) -> None:
        from rich import get_console

        args = (summary_data, total_parameters, trainable_parameters, model_size)
        args = (*args, total_training_modes)
        if total_flops:
            RichModelSummary.summarize(*args, total_flops=total_flops, **summarize_kwargs)
            return
        with get_console().capture() as captured:
            RichModelSummary.summarize(*args, total_flops=total_flops, **summarize_kwargs)
        lines = captured.get().splitlines(keepends=True)
        sys.stdout.write("".join(line for line in lines if "Total FLOPs" not in line))
        sys.stdout.flush()
