"""The base of the families whose loss differentiates in its inputs (the energy model's Langevin
steps, the invertible ResNet's Jacobians), validation included."""

from __future__ import annotations

import torch

from pipeline import EpochPartsModule


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
