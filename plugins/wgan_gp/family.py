"""WGAN-GP: the critic's estimate E D(real) − E D(fake) of the Wasserstein distance, checked against
the true one."""

from __future__ import annotations

import numpy as np
import torch

from pipeline import Family
from plugins.generative.adversarial import SingleLossGAN
from plugins.generative.gan_report import gan_report, generator_export
from plugins.generative.penalties import gradient_penalty
from plugins.generative.report import latent_generator
from plugins.wgan_gp.distance import wasserstein


class WGANGPModule(SingleLossGAN):
    """L_D = E D(G(z)) − E D(x) + γ·E(‖∇D(x̂)‖ − 1)², L_G = −E D(G(z))."""

    def __init__(self, *args, penalty: float = 10.0):
        super().__init__(*args)
        self.penalty = penalty

    def discriminator_loss(self, real, fake, z):
        estimate = self.discriminator(real).mean() - self.discriminator(fake).mean()
        penalty = gradient_penalty(self.discriminator, real, fake)
        return -estimate + self.penalty * penalty, {"w_critic": estimate, "penalty": penalty}

    def generator_loss(self, fake_scores, z):
        return -fake_scores.mean(), {}

    def validation_step(self, batch, batch_idx):
        super().validation_step(batch, batch_idx)
        # The exact distance between the validation batch and as many samples, to set beside
        # w_critic.
        real = batch[0]
        with torch.no_grad():
            fake = self.generator(self.noise(len(real)))
        self.log(
            "val_w_true",
            wasserstein(real.cpu().numpy(), fake.cpu().numpy()),
            on_epoch=True,
            sync_dist=True,
        )


class WGANGPFamily(Family):
    """Builds, evaluates and exports WGAN-GP."""

    def build(self, settings, info):
        return WGANGPModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            settings["generator_weight"],
            penalty=settings["penalty"],
        )

    @torch.no_grad()
    def evaluate(self, module, data, out_dir):
        metrics = gan_report(module, data, out_dir, "WGAN-GP")
        real = torch.from_numpy(data.test.x)
        fake = module.generator(module.noise(len(real), latent_generator(2)))
        metrics["w_critic"] = float(
            module.discriminator(real).mean() - module.discriminator(fake).mean()
        )
        metrics["w_true"] = wasserstein(data.test.x, fake.numpy())
        return metrics

    def export_target(self, module, data):
        return generator_export(module)
