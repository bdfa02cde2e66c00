"""The Deep INFOMAX module: a convolutional encoder, its two critics and the loss.

The encoder maps an image through two convolutions to a feature map (local features, one vector per
location) and through two dense layers to the posterior N(μ, σ²) of the code; z is sampled from it.
The loss per batch is

    γ·KL(N(μ, σ²) ‖ N(0, I)) − α·Î_JSD(features; z) − β·mean over locations Î_JSD(local; z),

with Î_JSD from :func:`plugins.infomax.estimators.jsd_mi` and the negatives pairing an image with
another image's code. Both critics "encode and dot": a small network maps the encoder's dense
features (global) or each location's features (local, 1×1 convolutions) to the code's width, and
the score is the dot product with z. On digits this gives codes a linear probe separates better
than critics that read features and code concatenated.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from pipeline import EpochPartsModule
from plugins.infomax.estimators import jsd_mi, mismatched


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) in closed form, summed over code dimensions (one value per row)."""
    return 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(1)


class InfomaxModule(EpochPartsModule):
    """Encoder, global and local critics; ``training_step`` returns the Deep INFOMAX loss."""

    def __init__(
        self,
        side: int,
        latent: int,
        hidden: int,
        channels: int,
        weights: tuple[float, float, float],
    ):
        super().__init__()
        self.side, self.latent = side, latent
        self.global_mi, self.local_mi, self.prior = weights
        wide = 2 * channels
        self.local = nn.Sequential(  # image -> feature map, one vector per location
            nn.Unflatten(1, (1, side, side)),
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, wide, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        cells = math.ceil(side / 2) ** 2
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(wide * cells, hidden), nn.ReLU())
        self.posterior = nn.Linear(hidden, 2 * latent)
        self.global_critic = nn.Sequential(
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, latent)
        )
        self.local_critic = nn.Sequential(
            nn.Conv2d(wide, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, latent, 1)
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The feature map, and the posterior's mean and log-variance."""
        features = self.local(x)
        mu, logvar = self.posterior(self.dense(features)).chunk(2, dim=1)
        return features, mu, logvar

    @torch.no_grad()
    def codes(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior means: the codes a probe reads."""
        return self.encode(x)[1]

    def global_scores(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Global critic scores of (image, code) pairs, one per row."""
        return (self.global_critic(self.dense(features)) * z).sum(1)

    def local_scores(self, features: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Local critic scores of (location, code) pairs, one per row and location."""
        return (self.local_critic(features) * z[:, :, None, None]).sum(1).flatten(1)

    def objective(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss of a batch and its parts (the two MI estimates and the prior term)."""
        features, mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        prior = gaussian_kl(mu, logvar).mean()
        parts = {"prior": prior}
        loss = self.prior * prior
        if self.global_mi > 0:
            joint, other = (
                self.global_scores(features, z),
                self.global_scores(features, mismatched(z)),
            )
            parts["global_mi"] = jsd_mi(joint, other)
            loss = loss - self.global_mi * parts["global_mi"]
        if self.local_mi > 0:
            joint, other = (
                self.local_scores(features, z),
                self.local_scores(features, mismatched(z)),
            )
            parts["local_mi"] = jsd_mi(joint, other)
            loss = loss - self.local_mi * parts["local_mi"]
        return loss, parts

    def training_step(self, batch, batch_idx):
        loss, parts = self.objective(batch[0])
        self.log_step("train", loss, parts, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, parts = self.objective(batch[0])
        self.log_step("val", loss, parts, len(batch[0]))
