"""The variational autoencoder all three VAE families share; they differ only in the prior's KL
term.

Per example the loss is the negative ELBO: a Bernoulli reconstruction term (pixels lie in [0, 1])
summed over pixels plus KL(q(z|x) ‖ prior). Subclasses override :meth:`VAEModule.prior_kl`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pipeline import EpochPartsModule
from plugins.generative.nets import mlp


def gaussian_kl(
    mu: torch.Tensor, logvar: torch.Tensor, prior_mu: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(prior_mu, I)) in closed form, summed over latent dimensions (one value per
    row)."""
    return 0.5 * (logvar.exp() + (mu - prior_mu) ** 2 - 1 - logvar).sum(1)


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """−log p(x|z) of a Bernoulli decoder, summed over pixels (one value per row)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


class VAEModule(EpochPartsModule):
    """Encoder → (μ, log σ²), reparametrized sample, decoder → pixel logits; loss = −ELBO."""

    def __init__(self, inputs: int, hidden: int, latent: int, recon_weight: float = 1.0):
        super().__init__()
        self.latent = latent
        self.recon_weight = recon_weight
        self.encoder = mlp([inputs, hidden, hidden, 2 * latent])
        self.decoder = mlp([latent, hidden, hidden, inputs])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior's mean and log-variance."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities (the decoder's mean image)."""
        return torch.sigmoid(self.decoder(z))

    def prior_kl(self, mu, logvar, z, y) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """KL(q(z|x) ‖ p(z)) per row, and extra per-row terms to log; here p(z) = N(0, I)."""
        return gaussian_kl(mu, logvar), {}

    def negative_elbo(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """−ELBO per row from one reparametrized sample, with its parts."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = reconstruction_nll(self.decoder(z), x)
        kl, extra = self.prior_kl(mu, logvar, z, y)
        return recon + kl, {"recon": recon, "kl": kl, **extra}

    def objective(self, batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The training loss of a batch (−ELBO, reconstruction weighted) and its parts,
        batch-averaged."""
        x, y = batch
        _, parts = self.negative_elbo(x, y)
        # A reconstruction weight above 1 trades the bound for more information in z (the clustering
        # VAE uses 2.5).
        loss = (self.recon_weight * parts["recon"] + parts["kl"]).mean()
        return loss, {name: value.mean() for name, value in parts.items()}

    def training_step(self, batch, batch_idx):
        loss, parts = self.objective(batch)
        self.log_step("train", loss, parts, len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        loss, parts = self.objective(batch)
        self.log_step("val", loss, parts, len(batch[0]))

    @torch.no_grad()
    def elbo(self, x: torch.Tensor, y: torch.Tensor, samples: int = 16) -> dict[str, float]:
        """Held-out ELBO per example (nats), averaged over ``samples`` posterior draws, with its
        parts."""
        totals: dict[str, float] = {}
        for _ in range(samples):
            loss, parts = self.negative_elbo(x, y)
            for name, value in {"elbo": -loss, **parts}.items():
                totals[name] = totals.get(name, 0.0) + float(value.mean()) / samples
        return totals
