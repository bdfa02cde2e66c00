"""The VAE baseline evaluate probes beside Deep INFOMAX: the project's own ``vae`` family, found
through the registry as any stage finds a family, trained briefly on the same training split with
the same code width, read through its posterior means μ."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Registry, create_plugin_manager

# A short fixed budget: on the digits' 1,257 training images a few tens of seconds on one CPU core.
VAE_EPOCHS = 40
VAE_LR = 1e-3  # Adam's
VAE_BATCH = 64
VAE_SEED = 0


@torch.enable_grad()  # evaluate runs under no_grad
def vae_codes(data, latent: int, epochs: int = VAE_EPOCHS) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` posterior means of a ``vae`` with ``latent`` dimensions (its other
    settings at their defaults) fitted for ``epochs`` on ``data.train`` with Adam on its own
    objective, in a plain loop: evaluate runs without Lightning. Seeded, and the caller's random
    state is left as it was."""
    registry = Registry(create_plugin_manager())
    spec = registry.family("vae")
    settings = {name: setting.default for name, setting in spec.settings.items()}
    x, y = torch.from_numpy(data.train.x), torch.from_numpy(data.train.y)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(VAE_SEED)
        module = spec.load().build({**settings, "latent": latent}, data.info)
        module.train()
        optimizer = torch.optim.Adam(module.parameters(), lr=VAE_LR)
        order = torch.Generator().manual_seed(VAE_SEED)
        for _ in range(epochs):
            for rows in torch.randperm(len(x), generator=order).split(VAE_BATCH):
                optimizer.zero_grad()
                loss, _ = module.objective((x[rows], y[rows]))
                loss.backward()
                optimizer.step()
    module.eval()
    with torch.no_grad():
        return tuple(
            module.encode(torch.from_numpy(s.x))[0].numpy() for s in (data.train, data.test)
        )
