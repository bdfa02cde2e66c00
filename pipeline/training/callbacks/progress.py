"""The terminal's view of a fit: one bar for the epoch (counted from 1), one for the whole fit with
its ETA, every logged metric, and the model summary without the rows and columns that say nothing.

The bar over the fit and the metrics fitted to the terminal's width are added through public names
only: Lightning's hooks, its ``progress`` (a rich ``Progress``), ``train_progress_bar_id``,
``total_train_batches`` and ``theme``, and rich's ``add_task``, ``update``, ``columns`` and
``console``. Should a Lightning or rich upgrade still break one of them, the additions switch off
with one warning and Lightning's own bar goes on; ``fit`` never fails for a bar. The epoch's number
is Lightning's description method overridden: renamed upstream, it is Lightning's 0-based number.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable

from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from lightning.pytorch.callbacks.progress.rich_progress import RichProgressBarTheme
from lightning.pytorch.utilities import rank_zero_warn
from rich.console import RenderableType
from rich.progress import ProgressColumn, Task
from rich.table import Column
from rich.text import Text
from typing_extensions import override

# Columns left of the metrics: description, the 40-column bar, batches, times, speed, padding.
BARS_WIDTH = 96
METRICS_DELIMITER = "  "  # between two metrics; one space separates a name from its value


class FitProgressBar(RichProgressBar):
    """Lightning's rich bar plus a bar over all epochs' batches, fitted to the terminal's width."""

    def __init__(self) -> None:
        super().__init__(theme=RichProgressBarTheme(metrics_text_delimiter=METRICS_DELIMITER))
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

    def _get_train_description(self, current_epoch: int) -> str:
        """``Epoch 1/20`` for the first of 20 epochs (Lightning counts from 0: ``Epoch 0/19``)."""
        text = f"Epoch {current_epoch + 1}"
        if self.trainer.max_epochs is not None and self.trainer.max_epochs >= 0:
            text += f"/{self.trainer.max_epochs}"
        return f"{text:{len(self.validation_description)}}"  # as wide as "Validation"

    @override
    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)  # the MLflow run id's tail; the summary names the whole id
        # Every epoch-level metric logged so far, not only those logged with prog_bar=True.
        for key, value in trainer.callback_metrics.items():
            if not key.endswith("_step") and key not in items:
                items[key] = float(value)
        return dict(sorted(items.items()))

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
        """Fit the metrics (Lightning's column after the bar's own) into what the bars leave of
        the line: on it when they fit, else one metric per line beside the bar."""
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
    """The metrics column within ``width`` characters: on one line when they fit, else one metric
    per line; a single metric too long for the width is cut with an ellipsis."""

    def __init__(self, column: ProgressColumn, width: int):
        super().__init__(table_column=Column(no_wrap=True, overflow="ellipsis", max_width=width))
        self.column = column
        self.width = width

    @override
    def render(self, task: Task) -> RenderableType:
        shown = self.column(task)
        if not isinstance(shown, Text) or shown.cell_len <= self.width:
            return shown
        lines = shown.plain.split(METRICS_DELIMITER)
        return Text("\n".join(lines), style=shown.style, justify="left")


class QuietModelSummary(RichModelSummary):
    """Lightning's rich model summary, laid out as Lightning does, without the FLOPs column and
    the "Total FLOPs: 0" line when FLOPs are not counted (every layer shows 0 then)."""

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
        from lightning.pytorch.utilities.model_summary.model_summary import (
            get_formatted_model_size,
            get_human_readable_count,
        )
        from rich import get_console
        from rich.table import Table

        if total_flops:
            RichModelSummary.summarize(
                summary_data,
                total_parameters,
                trainable_parameters,
                model_size,
                total_training_modes,
                total_flops=total_flops,
                **summarize_kwargs,
            )
            return
        console = get_console()
        columns = [(name, values) for name, values in summary_data if name != "FLOPs"]
        table = Table(header_style=summarize_kwargs.get("header_style", "bold magenta"))
        for name, _ in columns:  # as Lightning lays them out
            right = name not in ("Name", "Type", "Mode", " ")
            style = "dim" if name == " " else "white" if name in ("In sizes", "Out sizes") else None
            table.add_column(name, justify="right" if right else "left", style=style)
        for row in zip(*(values for _, values in columns), strict=True):
            table.add_row(*row)
        console.print(table)
        counts = (trainable_parameters, total_parameters - trainable_parameters, total_parameters)
        trainable, frozen, total = (get_human_readable_count(int(n)) for n in counts)
        grid = Table.grid(expand=True)
        grid.add_column()
        for label, value in (
            ("Trainable params", trainable),
            ("Non-trainable params", frozen),
            ("Total params", total),
            ("Total estimated model params size (MB)", get_formatted_model_size(model_size)),
            ("Modules in train mode", total_training_modes["train"]),
            ("Modules in eval mode", total_training_modes["eval"]),
        ):
            grid.add_row(f"[bold]{label}[/]: {value}")
        console.print(grid)
