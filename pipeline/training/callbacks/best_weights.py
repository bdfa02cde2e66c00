"""Keeps the weights of the epoch whose validation metric was best, so the train stage can write
them instead of the last epoch's (``selection.best``)."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch
from typing_extensions import override

from pipeline.errors import PipelineError


def monitored(trainer: pl.Trainer, monitor: str) -> float | None:
    """The value of ``monitor`` this validation logged; one clear error when the family logs no
    such metric. None during the sanity check, which only proves the metric exists."""
    metrics = trainer.callback_metrics
    if monitor not in metrics:
        logged = sorted(name for name in metrics if name.startswith("val_"))
        raise PipelineError(
            f"selection.monitor = {monitor!r} is not a validation metric this family logs; it "
            f"logs: {', '.join(logged) or 'none'}."
        )
    return None if trainer.sanity_checking else float(metrics[monitor])


class BestWeights(pl.Callback):
    """A copy of the weights of the epoch with the best ``monitor`` value (lowest for ``mode``
    min, highest for max; the earliest on a tie), on the CPU.

    The copy is taken when the validation epoch ends, so it holds the weights validation scored
    (a weight average swapped in for validation included); it is kept if the metric, complete once
    validation has ended, improved. Both the weights and their epoch are in the checkpoint's state,
    so a killed and resumed training keeps the best epoch it had already seen.
    """

    def __init__(self, monitor: str, mode: str):
        self.monitor, self.mode = monitor, mode
        self.epoch: int | None = None  # the chosen epoch, counted from 0 as plots/history.csv does
        self.score: float | None = None
        self.weights: dict[str, torch.Tensor] | None = None
        self._candidate: dict[str, torch.Tensor] | None = None

    @property
    @override
    def state_key(self) -> str:
        return f"BestWeights[{self.monitor},{self.mode}]"

    @override
    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._candidate = {
                name: value.detach().to("cpu", copy=True)
                for name, value in pl_module.state_dict().items()
            }

    @override
    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        score = monitored(trainer, self.monitor)
        if score is None:
            return
        better = self.score is None or (
            score < self.score if self.mode == "min" else score > self.score
        )
        if trainer.world_size > 1:  # rank zero writes the model: every rank takes its choice
            better = trainer.strategy.broadcast(better, src=0)
        if better:
            self.epoch, self.score, self.weights = trainer.current_epoch, score, self._candidate
        self._candidate = None

    def restore(self, module: torch.nn.Module) -> int | None:
        """Load the chosen weights into ``module``; return their epoch (None: no epoch was scored,
        the module keeps its weights)."""
        if self.weights is None:
            return None
        module.load_state_dict(self.weights)
        return self.epoch

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "score": self.score, "weights": self.weights}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.epoch, self.score = state_dict["epoch"], state_dict["score"]
        self.weights = state_dict["weights"]
