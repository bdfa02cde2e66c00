"""The clustering VAE's model: prior p(z) = Σ_y p(y) N(z; μ_y, I) with uniform p(y), and q(y|z)
learned."""

from __future__ import annotations

import math

import torch
from torch import nn

from plugins.generative.nets import mlp
from plugins.generative.vae import VAEModule


class ClusterVAEModule(VAEModule):
    """q(z, y|x) = q(z|x)·q(y|z); the loss is −ELBO against the mixture prior p(z|y)p(y)."""

    def __init__(
        self,
        inputs: int,
        hidden: int,
        latent: int,
        clusters: int,
        recon_weight: float = 1.0,
        kmeans_start: int = 0,
    ):
        super().__init__(inputs, hidden, latent, recon_weight)
        self.cluster_means = nn.Parameter(torch.randn(clusters, latent))
        self.cluster_head = mlp([latent, hidden, clusters])
        self.kmeans_start = kmeans_start

    def on_train_epoch_start(self) -> None:
        # Once the codes carry the data's structure, the means start where the codes cluster (the
        # usual start of a Gaussian-mixture VAE); the loss and the model stay the series' own.
        if self.kmeans_start and self.current_epoch == self.kmeans_start:
            self.place_means_by_kmeans(self.trainer.train_dataloader)

    @torch.no_grad()
    def place_means_by_kmeans(self, batches) -> None:
        """Set the mixture means to KMeans centres of the codes μ(x) of every training example.

        Every process gathers the codes of all of them, so DDP replicas compute the same centres.
        """
        from sklearn.cluster import KMeans

        codes = torch.cat([self.encode(x.to(self.device))[0] for x, *_ in batches])
        codes = self.all_gather(codes).reshape(-1, self.latent).double().cpu().numpy()
        kmeans = KMeans(n_clusters=len(self.cluster_means), n_init=10, random_state=0).fit(codes)
        self.cluster_means.copy_(torch.as_tensor(kmeans.cluster_centers_).to(self.cluster_means))

    def cluster_probs(self, z: torch.Tensor) -> torch.Tensor:
        """q(y|z) for every cluster."""
        return torch.softmax(self.cluster_head(z), dim=1)

    def prior_kl(self, mu, logvar, z, y):
        """KL(q(z, y|x) ‖ p(z, y)) per row: the Gaussian part at the sampled z, the categorical part
        exactly.

        E_q(z|x)[log q(z|x)] = −½Σ(1 + log σ²) (+ the log 2π that cancels), E_q(y|z)[−log p(z|y)] =
        ½Σ_y q(y|z)‖z − μ_y‖², and KL(q(y|z) ‖ uniform) = Σ_y q log q + log K.
        """
        probs = self.cluster_probs(z)
        distances = ((z[:, None, :] - self.cluster_means[None]) ** 2).sum(2)
        gaussian = 0.5 * (probs * distances).sum(1) - 0.5 * (1 + logvar).sum(1)
        categorical = (probs * torch.log(probs.clamp_min(1e-12))).sum(1) + math.log(probs.shape[1])
        return gaussian + categorical, {"cluster_kl": categorical}

    @torch.no_grad()
    def assign(self, x: torch.Tensor) -> torch.Tensor:
        """The most probable cluster of each example, read at its posterior mean."""
        mu, _ = self.encode(x)
        return self.cluster_probs(mu).argmax(1)

    def sample_latents(self, clusters: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Draws from the prior component of each requested cluster."""
        return self.cluster_means[clusters] + torch.randn(
            len(clusters), self.latent, generator=generator
        )
