"""The base class of every family's LightningModule: the family writes the steps, the core the
optimizers."""

from __future__ import annotations

from typing import Any, Callable

import lightning.pytorch as pl


class ModelModule(pl.LightningModule):
    """A LightningModule whose optimizers come from the run's params and tricks.

    Families implement ``training_step`` (returning the loss) and usually ``validation_step``
    logging ``val_loss``; they do not implement ``configure_optimizers``. The core sets
    :attr:`optimization` before training, a callable building the optimizer (with every enabled
    trick applied) for this module.

    :attr:`loss_weight` multiplies the loss before its backward pass (after Lightning's division by
    ``accumulate_grad_batches``); the logged loss is untouched. It stays 1.0 unless a trick's
    callback sets it for the coming batch, as ``grad_accum`` does to weight each micro-batch by its
    share of the examples of its accumulation group.

    :attr:`batch_indices` True asks the data module for training batches ``(x, y, index)``, where
    ``index`` holds each row's position in the training split (``info.train_examples`` rows), for a
    model with a parameter per training example; data streamed from shards cannot give it.
    """

    optimization: Callable[["ModelModule"], Any] | None = None
    loss_weight: float = 1.0
    batch_indices: bool = False

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
