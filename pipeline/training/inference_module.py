"""A torch module with the part of a LightningModule's face that scoring and exporting a trained
model use, for commands that do not load Lightning (see :mod:`pipeline.training.module_base`)."""

from __future__ import annotations

import itertools

import torch


class InferenceModule(torch.nn.Module):
    """``device``, ``current_epoch`` and ``global_step`` as a LightningModule outside a fit has
    them; ``trainer`` says why there is none."""

    current_epoch = 0
    global_step = 0

    @property
    def device(self) -> torch.device:
        """The device of the module's first parameter or buffer (CPU if it has none)."""
        for tensor in itertools.chain(self.parameters(), self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def trainer(self):
        raise RuntimeError(
            f"{type(self).__name__} is not attached to a Trainer: this command only scores or "
            "exports a trained model."
        )
