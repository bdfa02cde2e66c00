"""Logging a loss's parts once per epoch: Lightning's ``self.log`` costs about a millisecond a call,
as much as
a whole training step of these small models, so only the loss itself is logged at every step."""

from __future__ import annotations

import torch

from pipeline.module import ModelModule


class EpochPartsModule(ModelModule):
    """Logs ``{stage}_loss`` every step and the batch-weighted epoch mean of every part once per
    epoch."""

    def __init__(self):
        super().__init__()
        self._sums: dict[str, dict[str, torch.Tensor]] = {"train": {}, "val": {}}
        self._counts = {"train": 0, "val": 0}

    def log_step(
        self, stage: str, loss: torch.Tensor, parts: dict[str, torch.Tensor], batch_size: int
    ) -> None:
        """Log the loss now and add the parts to the epoch's sums (flushed at the end of the
        epoch)."""
        val = stage == "val"
        self.log(
            f"{stage}_loss",
            loss.detach(),
            on_step=False,
            on_epoch=True,
            prog_bar=True,
            sync_dist=val,
            batch_size=batch_size,
        )
        sums = self._sums[stage]
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + value.detach() * batch_size
        self._counts[stage] += batch_size
        # The epoch's history row is written by a callback at on_train_epoch_end, before this
        # module's own
        # hook runs, so the training parts are flushed with the epoch's last batch instead.
        if not val and self.trainer.is_last_batch:
            self._flush("train")

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
                sync_dist=stage == "val",
            )
        self._sums[stage], self._counts[stage] = {}, 0


class InputGradientModule(EpochPartsModule):
    """A module whose loss differentiates in its inputs (Langevin steps, Jacobians), validation
    included: subclasses write :meth:`objective`, this class the training and validation steps."""

    def objective(self, x, train: bool):
        """The loss of a batch of inputs ``x`` and its parts; ``train`` is False in validation."""
        raise NotImplementedError

    def training_step(self, batch, batch_idx):
        loss, parts = self.objective(batch[0], train=True)
        self.log_step("train", loss, parts, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        # Inference mode forbids the gradients in x the loss takes.
        with torch.inference_mode(False), torch.enable_grad():
            loss, parts = self.objective(batch[0].clone(), train=False)
        self.log_step("val", loss, parts, len(batch[0]))
