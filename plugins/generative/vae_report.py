"""Evaluation and export shared by the VAE families: held-out ELBO, sample scores and the
pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipeline import PreparedData, save_image_grid
from plugins.generative.judge import Judge
from plugins.generative.report import (
    is_image,
    sample_metrics,
    save_interpolations,
    save_latent_scatter,
    save_samples,
)
from plugins.generative.vae import VAEModule


@torch.no_grad()
def vae_report(
    module: VAEModule, data: PreparedData, out_dir: Path, prior_z: torch.Tensor, title: str
) -> tuple[dict[str, float], Judge]:
    """Test ELBO, scores of samples decoded from ``prior_z``, and the shared pictures; returns the
    judge too."""
    x, y = torch.from_numpy(data.test.x), torch.from_numpy(data.test.y)
    with torch.random.fork_rng():
        torch.manual_seed(0)  # the same posterior draws on every evaluation of one model
        metrics = {f"test_{k}" if k != "elbo" else "elbo": v for k, v in module.elbo(x, y).items()}
    judge = Judge(data)
    samples = module.decode(prior_z).numpy()
    metrics.update(sample_metrics(judge, data, samples))
    save_samples(data.test.x, samples, out_dir / "samples.png", f"{title}: samples from the prior")
    mu, _ = module.encode(x)
    save_latent_scatter(
        mu.numpy(),
        data.test.y,
        out_dir / "latent_scatter.png",
        f"{title}: test codes μ(x) by class",
    )
    if is_image(x.shape[1]):
        recon = module.decode(mu[:20]).numpy()
        pairs = np.stack([data.test.x[:20].reshape(2, 10, -1), recon.reshape(2, 10, -1)], axis=1)
        save_image_grid(
            pairs.reshape(40, -1),
            out_dir / "reconstructions.png",
            columns=10,
            title=f"{title}: test digits (rows 1, 3) and reconstructions (rows 2, 4)",
        )
        save_interpolations(
            module.decode,
            mu[:6],
            mu[6:12],
            out_dir / "interpolations.png",
            f"{title}: decoded straight lines between test codes",
        )
    return metrics, judge


def decoder_export(module: VAEModule, data: PreparedData) -> tuple[nn.Sequential, torch.Tensor]:
    """The decoder ending in a sigmoid, fed the codes μ(x) of test examples."""
    with torch.no_grad():
        mu, _ = module.encode(torch.from_numpy(data.test.x))
    return nn.Sequential(*module.decoder, nn.Sigmoid()).eval(), mu
