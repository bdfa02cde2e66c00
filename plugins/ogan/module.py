"""O-GAN's model: the discriminator outputs a vector E(x); its mean is the score, its direction a
code."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from plugins.generative.adversarial import SingleLossGAN
from plugins.generative.penalties import r1_penalty


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation between matching rows of ``a`` and ``b``, taken across their columns."""
    return F.cosine_similarity(a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True), dim=1)


def standardize(codes: torch.Tensor) -> torch.Tensor:
    """Each row shifted and scaled to mean 0 and standard deviation 1, like a draw of z ~ N(0, I).

    ρ ignores a row's mean and scale (the mean is the score), so only the standardized code is
    meaningful.
    """
    centred = codes - codes.mean(1, keepdim=True)
    return centred / centred.pow(2).mean(1, keepdim=True).sqrt().clamp_min(1e-8)


class OGANModule(SingleLossGAN):
    """Standard GAN losses on D(x) = avg(E(x)) (with the R1 penalty), each minus w·ρ(z, E(G(z)))."""

    def __init__(
        self,
        inputs: int,
        hidden: int,
        latent: int,
        generator_weight: float,
        r1: float,
        correlation_weight: float,
    ):
        # ρ(z, E) has an unbounded gradient at E = 0, so E must not start flat.
        super().__init__(inputs, hidden, latent, generator_weight, scores=latent, flat_start=False)
        self.r1 = r1
        self.correlation_weight = correlation_weight

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """D(x) = avg(E(x)), one logit per row."""
        return self.discriminator(x).mean(1)

    def discriminator_loss(self, real, fake, z):
        real_logits, penalty = r1_penalty(self.score, real)
        fake_codes = self.discriminator(fake)
        rho = pearson(z, fake_codes).mean()
        loss = (
            F.softplus(-real_logits).mean()
            + F.softplus(fake_codes.mean(1)).mean()
            + 0.5 * self.r1 * penalty
            - self.correlation_weight * rho
        )
        return loss, {"rho": rho, "r1": penalty}

    def generator_loss(self, fake_scores, z):
        rho = pearson(z, fake_scores).mean()
        return F.softplus(-fake_scores.mean(1)).mean() - self.correlation_weight * rho, {}

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The noise vector E reads in ``x``, standardized so that G can decode it."""
        return standardize(self.discriminator(x))
