"""The VAE baseline evaluate probes beside Deep INFOMAX: the project's own ``vae`` family, found
through the registry as any stage finds a family, trained briefly on the same training split with
the same code width, read through its posterior means μ."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from pipeline import TEST_TRAINER, Registry, build_training, create_plugin_manager

# A short fixed budget: on the digits' 1,257 training images a few tens of seconds on one CPU core.
VAE_EPOCHS = 40
VAE_OPTIMIZER = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0}
VAE_BATCH = 64
VAE_SEED = 0


def vae_codes(data, latent: int, epochs: int = VAE_EPOCHS) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` posterior means of a ``vae`` with ``latent`` dimensions (its other
    settings at their defaults) fitted for ``epochs`` on ``data.train``; seeded, and the caller's
    random state is left as it was."""
    registry = Registry(create_plugin_manager())
    spec = registry.family("vae")
    settings = {name: setting.default for name, setting in spec.settings.items()}
    x = torch.from_numpy(data.train.x)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(VAE_SEED)
        module = spec.load().build({**settings, "latent": latent}, data.info)
        trainer = {**TEST_TRAINER, "max_epochs": epochs}
        training = build_training(module, VAE_OPTIMIZER, {}, registry, trainer)
        batches = DataLoader(
            TensorDataset(x, torch.from_numpy(data.train.y)),
            batch_size=VAE_BATCH,
            shuffle=True,
            generator=torch.Generator().manual_seed(VAE_SEED),
        )
        training.trainer.fit(module, train_dataloaders=batches)
    module.eval()
    with torch.no_grad():
        return tuple(
            module.encode(torch.from_numpy(s.x))[0].numpy() for s in (data.train, data.test)
        )
