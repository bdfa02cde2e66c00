"""The terminal's view of a fit: one bar for the epoch, one for the whole fit with its ETA, and the
model summary without the rows that say nothing.

The bar over the fit and the metrics cut at the terminal's width are added through public names
only: Lightning's hooks, its ``progress`` (a rich ``Progress``), ``train_progress_bar_id``,
``total_train_batches`` and ``theme``, and rich's ``add_task``, ``update``, ``columns`` and
``console``. Should a Lightning or rich upgrade still break one of them, the additions switch off
with one warning and Lightning's own bar goes on; ``fit`` never fails for a bar.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Callable

from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from lightning.pytorch.utilities import rank_zero_warn
from rich.console import RenderableType
from rich.progress import ProgressColumn, Task
from rich.table import Column
from typing_extensions import override

# Columns left of the metrics: description, the 40-column bar, batches, times, speed, padding.
BARS_WIDTH = 96


class FitProgressBar(RichProgressBar):
    """Lightning's rich bar plus a bar over all epochs' batches, fitted to the terminal's width."""

    def __init__(self) -> None:
        super().__init__()
        self.bar_columns: list = []  # the columns left of Lightning's metrics
        self.fit_task: tuple[Any, Any] | None = None  # (the Progress holding the bar, its task id)
        self.fitted: Any = None  # the Progress whose metrics were fitted to the width
        self.plain = False  # an addition failed: Lightning's bar alone from then on

    @override
    def configure_columns(self, trainer) -> list:
        self.bar_columns = super().configure_columns(trainer)
        return self.bar_columns

    @override
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self._safely(self._start_epoch, trainer)

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int) -> None:
        self._safely(self._update_fit, trainer, batch_idx + 1)
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    @override
    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the MLflow run id's tail; the summary names the whole id
        return items

    def __getstate__(self) -> dict:
        # As Lightning's: a rich Progress holds thread locks, which do not pickle (ddp_spawn).
        return {**super().__getstate__(), "fit_task": None, "fitted": None}

    def _safely(self, addition: Callable[..., None], *args: Any) -> None:
        """Run one of the bar's additions; on a Lightning or rich change it cannot follow, warn
        once and leave Lightning's bar as it is."""
        if self.plain:
            return
        try:
            addition(*args)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
            self.plain = True
            self._drop_fit_bar()
            rank_zero_warn(
                f"The bar over the whole fit is off ({type(error).__name__}: {error}): the "
                "installed Lightning or rich changed what it builds on; Lightning's own bar goes "
                "on."
            )

    def _start_epoch(self, trainer) -> None:
        progress = self.progress
        if progress is None:
            return
        if self.fitted is not progress:  # a new Progress: once per fit, or per epoch with leave
            self._fit_metrics(progress)
            self.fitted = progress
        total = self._fit_batches(trainer)
        if total is None:
            return
        if self.fit_task is None or self.fit_task[0] is not progress:
            style = self.theme.description  # as Lightning styles its own bars' descriptions
            task = progress.add_task(f"[{style}]Fit" if style else "Fit", total=total)
            self.fit_task = (progress, task)
        self._update_fit(trainer, 0)

    def _fit_metrics(self, progress) -> None:
        """Cut the metrics (Lightning's column after the bar's own) at what the bars leave of the
        line, instead of wrapping them onto more lines."""
        columns = list(progress.columns)
        added = [i for i, column in enumerate(columns) if column not in self.bar_columns]
        if not added:
            return
        room = max(progress.console.width - BARS_WIDTH, 10)
        columns[added[-1]] = Fitted(columns[added[-1]], room)
        progress.columns = tuple(columns)

    def _update_fit(self, trainer, done_in_epoch: int) -> None:
        if self.fit_task is not None and self.fit_task[0] is self.progress:
            done = trainer.current_epoch * self.total_train_batches + done_in_epoch
            self.progress.update(self.fit_task[1], completed=done)

    def _drop_fit_bar(self) -> None:
        if self.fit_task is not None:
            with contextlib.suppress(Exception):  # best effort: the bar is only a view
                self.fit_task[0].remove_task(self.fit_task[1])
            self.fit_task = None

    def _fit_batches(self, trainer) -> float | None:
        """Batches in the whole fit, or None when the fit's length is not known."""
        epochs, per_epoch = trainer.max_epochs, self.total_train_batches
        if epochs is None or epochs < 0 or per_epoch in (0, float("inf")):
            return None
        return epochs * per_epoch


class Fitted(ProgressColumn):
    """Another column, on one line and cut with an ellipsis at ``width`` characters."""

    def __init__(self, column: ProgressColumn, width: int):
        super().__init__(table_column=Column(no_wrap=True, overflow="ellipsis", max_width=width))
        self.column = column

    @override
    def render(self, task: Task) -> RenderableType:
        return self.column(task)


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
