"""The single-loss GAN with the standard (non-saturating) losses."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from pipeline import Family
from plugins.generative.adversarial import SingleLossGAN
from plugins.generative.gan_report import gan_report, generator_export
from plugins.generative.penalties import r1_penalty


class GANModule(SingleLossGAN):
    """L_D = −log σ(D(x)) − log(1 − σ(D(G(z)))) + γ/2·E‖∇D(x)‖², L_G = −log σ(D(G(z))), D giving
    logits."""

    def __init__(self, *args, r1: float = 0.0):
        super().__init__(*args)
        self.r1 = r1

    def discriminator_loss(self, real, fake, z):
        real_logits, penalty = r1_penalty(self.discriminator, real)
        fake_logits = self.discriminator(fake)
        loss = (
            F.softplus(-real_logits).mean()
            + F.softplus(fake_logits).mean()
            + 0.5 * self.r1 * penalty
        )
        return loss, {
            "d_real": real_logits.sigmoid().mean(),
            "d_fake": fake_logits.sigmoid().mean(),
            "r1": penalty,
        }

    def generator_loss(self, fake_scores, z):
        return F.softplus(-fake_scores).mean(), {}


class GANFamily(Family):
    """Builds, evaluates and exports the single-loss GAN."""

    def build(self, settings, info):
        return GANModule(
            int(np.prod(info.input_shape)),
            settings["hidden"],
            settings["latent"],
            settings["generator_weight"],
            r1=settings["r1"],
        )

    def evaluate(self, module, data, out_dir):
        return gan_report(module, data, out_dir, "GAN")

    def export_target(self, module, data):
        return generator_export(module)
