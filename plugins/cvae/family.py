"""The conditional VAE: the prior of class y is N(μ_y, I); sampling near μ_y draws that class."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pipeline import Family, save_image_grid
from plugins.generative.report import is_image, latent_generator
from plugins.generative.vae import VAEModule, gaussian_kl
from plugins.generative.vae_report import decoder_export, vae_report


class CVAEModule(VAEModule):
    """A VAE with one learned prior mean per class (zeros at the start)."""

    def __init__(
        self, inputs: int, hidden: int, latent: int, classes: int, recon_weight: float = 1.0
    ):
        super().__init__(inputs, hidden, latent, recon_weight)
        self.class_means = nn.Parameter(torch.zeros(classes, latent))

    def prior_kl(self, mu, logvar, z, y):
        return gaussian_kl(mu, logvar, self.class_means[y]), {}

    def sample_latents(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draws from the prior of each requested class."""
        return self.class_means[y] + torch.randn(len(y), self.latent, generator=generator)


class CVAEFamily(Family):
    """Builds, evaluates and exports the conditional VAE."""

    def build(self, settings, info):
        return CVAEModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            info.num_classes,
            settings["recon_weight"],
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        classes = data.info.num_classes
        generator = latent_generator()
        prior_y = torch.arange(len(data.test.x)) % classes
        metrics, judge = vae_report(
            module, data, out_dir, module.sample_latents(prior_y, generator), "CVAE"
        )
        wanted = torch.arange(classes).repeat_interleave(100)
        read = judge.predict(module.decode(module.sample_latents(wanted, generator)))
        per_class = [float((read[wanted == c] == c).mean()) for c in range(classes)]
        metrics["class_accuracy"] = float(np.mean(per_class))
        # The class the model serves worst: every requested class must come out as itself.
        metrics["class_accuracy_min"] = min(per_class)
        metrics["class_mean_accuracy"] = judge.score(
            module.decode(module.class_means), np.arange(classes)
        )
        if is_image(data.test.x.shape[1]):
            rows = torch.arange(classes).repeat_interleave(10)
            save_image_grid(
                module.decode(module.sample_latents(rows, generator)).numpy(),
                out_dir / "class_samples.png",
                columns=10,
                title="CVAE: row c holds samples from the prior of class c",
            )
        return metrics

    def export_target(self, module, data):
        return decoder_export(module, data)
