"""Evaluation and export shared by the GAN families: sample scores, sample and interpolation
pictures."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from pipeline import PreparedData
from plugins.generative.adversarial import SingleLossGAN
from plugins.generative.judge import Judge
from plugins.generative.report import (
    is_image,
    latent_generator,
    sample_metrics,
    save_interpolations,
    save_samples,
)


@torch.no_grad()
def gan_report(
    module: SingleLossGAN, data: PreparedData, out_dir: Path, title: str
) -> dict[str, float]:
    """Scores of samples from fixed noise, the samples picture and interpolations."""
    generator = latent_generator()
    samples = module.generator(module.noise(len(data.test.x), generator)).numpy()
    metrics = sample_metrics(Judge(data), data, samples)
    save_samples(data.test.x, samples, out_dir / "samples.png", f"{title}: samples")
    if is_image(data.test.x.shape[1]):
        save_interpolations(
            module.generator,
            module.noise(6, generator),
            module.noise(6, generator),
            out_dir / "interpolations.png",
            f"{title}: straight lines between noise vectors",
        )
    return metrics


def generator_export(
    module: SingleLossGAN, examples: int = 256
) -> tuple[nn.Sequential, torch.Tensor]:
    """The generator (already a plain Sequential ending in a sigmoid) and fixed noise to feed it."""
    return module.generator.eval(), module.noise(examples, latent_generator(1))
