"""The base classes of a family's LightningModule: the family writes the steps, the core the
optimizers. :class:`EpochPartsModule` adds logging a loss's parts once per epoch.

In a command that only scores or exports, they derive from a plain torch module instead
(:mod:`pipeline.training.module_base`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch

from pipeline.training.module_base import base


class ModelModule(base()):
    """A LightningModule whose optimizers come from the run's params and tricks.

    Families implement ``training_step`` (returning the loss) and usually ``validation_step``
    logging ``val_loss``; they do not implement ``configure_optimizers``. The core injects it, as
    LightningCLI does from its ``--optimizer`` settings: :func:`pipeline.build_training` sets
    :attr:`optimization`, a callable building the base optimizer of ``optimizer:`` with every
    enabled trick applied, and ``configure_optimizers`` returns what it builds. So every trick
    composes with every family, and no family can leave one out.

    :attr:`loss_weight` multiplies the loss before its backward pass (after Lightning's division by
    ``accumulate_grad_batches``); the logged loss is untouched. It stays 1.0 unless a trick's
    callback sets it for the coming batch, as ``grad_accum`` does to weight each micro-batch by its
    share of the examples of its accumulation group.

    :attr:`batch_indices` True asks the data module for training batches ``(x, y, index)``, where
    ``index`` holds each row's position in the training split (``info.train_examples`` rows), for a
    model with a parameter per training example; data streamed from shards cannot give it.

    :attr:`plots_dir` is the run's ``plots/`` folder (a DVC output) when the train stage runs the
    module, else None: where a trick's callback writes what ``dvc plots`` should show.
    """

    optimization: Callable[["ModelModule"], Any] | None = None
    loss_weight: float = 1.0
    batch_indices: bool = False
    plots_dir: Path | None = None

    def configure_optimizers(self) -> Any:
        if self.optimization is None:
            raise RuntimeError(
                "ModelModule.optimization was not set; train through the pipeline's train stage."
            )
        return self.optimization(self)

    def backward(self, loss: Any, *args: Any, **kwargs: Any) -> None:
        # A weight of exactly 1.0 is skipped, so runs without a weighting trick stay bit for bit as
        # before.
        super().backward(
            loss if self.loss_weight == 1.0 else loss * self.loss_weight, *args, **kwargs
        )


class EpochPartsModule(ModelModule):
    """A module that logs its loss and the loss's parts (reconstruction, KL, accuracy, each
    player's loss, ...) once per epoch, as their batch-weighted means over the epoch.

    Lightning's ``self.log`` costs about a millisecond a call, as much as a whole training step of
    a small model; here a step only adds its values to the epoch's sums (on the device, without a
    synchronisation), and ``{stage}_loss`` and ``{stage}_{part}`` are logged when the epoch ends.
    """

    def __init__(self):
        super().__init__()
        self._sums: dict[str, dict[str, torch.Tensor]] = {"train": {}, "val": {}}
        self._counts = {"train": 0, "val": 0}

    def log_step(
        self, stage: str, loss: torch.Tensor, parts: dict[str, torch.Tensor], batch_size: int
    ) -> None:
        """Add the loss and its parts to the epoch's sums (``stage`` is ``train`` or ``val``)."""
        sums = self._sums[stage]
        for name, value in {"loss": loss, **parts}.items():
            sums[name] = sums.get(name, 0.0) + value.detach() * batch_size
        self._counts[stage] += batch_size
        # The epoch's history row is written by a callback at on_train_epoch_end, before this
        # module's own hook runs, so the training sums are logged with the epoch's last batch.
        trainer = self._attached_trainer() if stage == "train" else None
        if trainer is not None and trainer.is_last_batch:
            self._flush("train")

    def _attached_trainer(self) -> Any:
        """The Trainer running this module, or None when a step is called by hand."""
        try:
            return self.trainer
        except RuntimeError:  # what Lightning's ``trainer`` raises with no Trainer attached
            return None

    def on_validation_epoch_end(self) -> None:
        self._flush("val")

    def _flush(self, stage: str) -> None:
        count = self._counts[stage]
        for name, total in self._sums[stage].items():
            self.log(
                f"{stage}_{name}",
                total / count,
                on_step=False,
                on_epoch=True,
                prog_bar=name == "loss",
                sync_dist=stage == "val",
            )
        self._sums[stage], self._counts[stage] = {}, 0
