"""Checkpoints the random streams a training draws from, so a resumed training draws the same
numbers an uninterrupted one would.

Families and tricks draw from the process-wide generators: a GAN's noise, a VAE's
reparameterisation, dropout, a penalty's interpolation weights. Lightning checkpoints the model,
the optimizers and the callbacks, not these generators, so a run resumed from ``last.ckpt`` would
go on with the streams of a fresh process. The training's batch order has a generator of its own,
seeded by (seed, epoch) (:class:`pipeline.data.batches.EpochOrder`).
"""

from __future__ import annotations

import random
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from typing_extensions import override


def capture() -> dict[str, Any]:
    """The state of torch's CPU (and CUDA) generators, numpy's and Python's, in types that
    ``torch.load(weights_only=True)`` reads."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": (str(kind), torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def apply(state: dict[str, Any]) -> None:
    """Set every generator :func:`capture` recorded back to its recorded state."""
    torch.set_rng_state(state["torch"])
    kind, keys, position, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class RandomStreams(pl.Callback):
    """Saves the generators' state with every checkpoint and sets it back when the resumed
    training's first epoch starts (after the sanity check, which draws too, and after the
    restore)."""

    def __init__(self):
        self._restored: dict[str, Any] | None = None

    @property
    @override
    def state_key(self) -> str:
        return "RandomStreams"

    @override
    def state_dict(self) -> dict[str, Any]:
        return capture()

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = state_dict

    @override
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._restored is not None:
            apply(self._restored)
            self._restored = None
