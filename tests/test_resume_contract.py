"""Every registered family resumes exactly: a training killed at an epoch boundary or in the middle
of an epoch, and resumed from its last checkpoint in a fresh process, ends with the weights, bit for
bit, of a training that was never stopped. The kill is an exception raised from a callback; the
fresh process is stood in for by reseeding every generator and building the module anew, as the
train stage does. Every trick that fits the family trains along."""

from __future__ import annotations

import random

import lightning.pytorch as pl
import numpy as np
import pytest
import torch

from pipeline.training.callbacks.checkpoint import LastCheckpoint
from tests.data_kit import contract_data
from tests.family_kit import REGISTRY, build, fit
from tests.test_families_contract import tricks_for
from tests.trick_kit import assert_bitwise_equal, weights

pytestmark = pytest.mark.usefixtures("one_thread")

EPOCHS, KILLED_IN = 3, 1
SHORT = {"batch_size": 16, "limit_train_batches": 4, "limit_val_batches": 1}


class Killed(Exception):
    """The kill, as the training sees it: it stops where it is."""


class KillAt(pl.Callback):
    """Stops the training in epoch ``epoch`` before its batch ``batch`` (0: at the epoch's start,
    right after the previous epoch's checkpoint)."""

    def __init__(self, epoch: int, batch: int):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            raise Killed


def train(name, data, folder, ckpt_path=None, kill: KillAt | None = None):
    """The family's module trained for ``EPOCHS``, checkpointing every epoch into ``folder``."""
    _, module = build(name, data)
    fit(
        module,
        data,
        tricks=tricks_for(name),
        callbacks=[LastCheckpoint(folder, 0), *([kill] if kill else [])],
        enable_checkpointing=True,
        max_epochs=EPOCHS,
        ckpt_path=ckpt_path,
        **SHORT,
    )
    return weights(module)


def reseed_everything(seed: int) -> None:
    """Every process-wide generator somewhere else, as a new process's would be."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


@pytest.mark.parametrize("name", sorted(REGISTRY.families))
def test_family_resumes_to_the_weights_of_an_uninterrupted_training(name, tmp_path):
    data = contract_data(name)
    uninterrupted = train(name, data, tmp_path / "whole")
    for batch in (0, 2):  # at the epoch boundary, and mid-epoch
        folder = tmp_path / f"killed-at-{batch}"
        with pytest.raises(Killed):
            train(name, data, folder, kill=KillAt(KILLED_IN, batch))
        reseed_everything(12345 + batch)
        resumed = train(name, data, folder, ckpt_path=folder / "last.ckpt")
        assert_bitwise_equal(resumed, uninterrupted)
