"""The base class of every family's LightningModule: the family writes the steps, the core the optimizers."""
from __future__ import annotations

from typing import Any, Callable

import lightning.pytorch as pl


class ModelModule(pl.LightningModule):
    """A LightningModule whose optimizers come from the run's params and tricks.

    Families implement ``training_step`` (returning the loss) and usually ``validation_step``
    logging ``val_loss``; they do not implement ``configure_optimizers``. The core sets
    :attr:`optimization` before training, a callable building the optimizer (with every enabled
    trick applied) for this module.
    """

    optimization: Callable[["ModelModule"], Any] | None = None

    def configure_optimizers(self) -> Any:
        if self.optimization is None:
            raise RuntimeError("ModelModule.optimization was not set; train through the pipeline's train stage.")
        return self.optimization(self)
