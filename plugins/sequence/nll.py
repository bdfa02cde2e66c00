"""Next-token negative log-likelihood over padded rows of token ids: the loss the sequence
families train on, and the test-split mean their evaluation reports."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from pipeline import PAD, EpochPartsModule

Scored = tuple[torch.Tensor, torch.Tensor]


def next_token_nll(log_probs: torch.Tensor, targets: torch.Tensor) -> Scored:
    """The summed negative log-likelihood of the non-``PAD`` ``targets`` (batch, n) under
    ``log_probs`` (batch, n, vocab), and how many such targets there are."""
    nll = F.nll_loss(log_probs.transpose(1, 2), targets, ignore_index=PAD, reduction="sum")
    return nll, (targets != PAD).sum()


class NextTokenModule(EpochPartsModule):
    """A module trained on the mean next-token negative log-likelihood of :meth:`nll`;
    ``train_loss`` and ``val_loss`` are nats per token."""

    def nll(self, batch) -> Scored:
        """The batch's summed negative log-likelihood and its token count."""
        raise NotImplementedError

    def _loss(self, batch) -> torch.Tensor:
        nll, count = self.nll(batch)
        return nll / count.clamp_min(1)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log_step("train", loss, {}, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log_step("val", self._loss(batch), {}, len(batch[0]))


@torch.no_grad()
def mean_nll(score: Callable[[tuple], Scored], *arrays: np.ndarray, rows: int = 256) -> float:
    """Nats per token of ``score`` over the rows of ``arrays``, fed ``rows`` at a time as a batch
    (a tuple of tensors, one slice of each array)."""
    total, count = 0.0, 0
    for start in range(0, len(arrays[0]), rows):
        nll, n = score(tuple(torch.from_numpy(a[start : start + rows]) for a in arrays))
        total, count = total + float(nll), count + int(n)
    return total / max(count, 1)
