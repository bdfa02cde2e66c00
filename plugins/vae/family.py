"""The VAE family: build, evaluate (ELBO, sample scores, pictures) and export the decoder."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Family, save_image_grid
from plugins.generative.report import is_image, latent_generator
from plugins.generative.vae import VAEModule
from plugins.generative.vae_report import decoder_export, vae_report


class VAEFamily(Family):
    """Builds, evaluates and exports the plain VAE."""

    def build(self, settings, info):
        return VAEModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            settings["recon_weight"],
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        prior_z = torch.randn(len(data.test.x), module.latent, generator=latent_generator())
        metrics, _ = vae_report(module, data, out_dir, prior_z, "VAE")
        if module.latent == 2 and is_image(data.test.x.shape[1]):
            save_image_grid(
                module.decode(manifold_grid(12)).numpy(),
                out_dir / "latent_manifold.png",
                columns=12,
                title="VAE: decoder over a grid of the 2-D latent space",
            )
        return metrics

    def export_target(self, module, data):
        return decoder_export(module, data)


def manifold_grid(side: int) -> torch.Tensor:
    """Latent points at evenly spaced Gaussian quantiles, so the grid covers the prior's mass
    evenly."""
    quantiles = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, side))
    rows, cols = torch.meshgrid(quantiles.flip(0), quantiles, indexing="ij")
    return torch.stack([cols.reshape(-1), rows.reshape(-1)], dim=1)
