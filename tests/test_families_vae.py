"""The VAE families: the KL terms are right, and a short run raises the held-out ELBO and each
family's own score."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, Normal

from plugins.cluster_vae.family import majority_accuracy
from plugins.generative.vae import gaussian_kl
from tests.family_kit import build, fit, prepared, read_history

pytestmark = pytest.mark.usefixtures("one_thread")


def test_closed_form_kl_matches_monte_carlo():
    generator = torch.Generator().manual_seed(0)
    mu, logvar, prior = (torch.randn(3, 4, generator=generator) for _ in range(3))
    closed = gaussian_kl(mu, logvar, prior)
    q = Independent(Normal(mu, (0.5 * logvar).exp()), 1)
    p = Independent(Normal(prior, torch.ones_like(prior)), 1)
    z = q.sample((200_000,))
    log_ratio = q.log_prob(z) - p.log_prob(z)
    error = 4 * log_ratio.std(0) / math.sqrt(len(z))  # four standard errors
    assert torch.all((log_ratio.mean(0) - closed).abs() < error), (log_ratio.mean(0), closed)
    assert torch.allclose(closed, torch.distributions.kl_divergence(q, p), rtol=1e-5)


def test_cluster_vae_kl_is_the_mixture_kl_in_expectation():
    data = prepared()
    _, module = build("cluster_vae", data, latent=3, clusters=4)
    mu, logvar = torch.tensor([[0.3, -0.2, 0.5]]), torch.tensor([[-1.0, -0.5, 0.2]])
    q = Normal(mu, (0.5 * logvar).exp())
    with torch.no_grad():
        means = module.cluster_means.detach().clone()
        means.copy_(torch.randn(means.shape, generator=torch.Generator().manual_seed(1)))
        module.cluster_means.copy_(means)
        z = q.sample((100_000,))[:, 0]
        estimate, parts = module.prior_kl(mu.expand_as(z), logvar.expand_as(z), z, None)
        # The exact integrand of KL(q(z, y|x) ‖ p(z)p(y)), with log q(z|x) evaluated at z instead of
        # in closed form.
        probs = module.cluster_probs(z)
        log_prior_z = Normal(means[None], 1.0).log_prob(z[:, None, :]).sum(2)
        exact = q.log_prob(z).sum(1) + (probs * (probs.log() + math.log(4) - log_prior_z)).sum(1)
    assert abs(float(estimate.mean() - exact.mean())) < 4 * float(
        (estimate - exact).std()
    ) / math.sqrt(len(z))
    assert torch.allclose(
        parts["cluster_kl"], -Categorical(probs=probs).entropy() + math.log(4), atol=1e-5
    )


def test_majority_accuracy_names_clusters_by_their_majority():
    import numpy as np

    fit_clusters, fit_labels = np.array([0, 0, 0, 1, 1, 2]), np.array([5, 5, 3, 7, 7, 1])
    assert (
        majority_accuracy(fit_clusters, fit_labels, np.array([0, 1, 2, 3]), np.array([5, 7, 2, 0]))
        == 0.5
    )


@pytest.mark.parametrize(
    "name, epochs, settings", [("vae", 12, {}), ("cvae", 20, {}), ("cluster_vae", 12, {})]
)
def test_short_run_lowers_the_loss_and_raises_the_elbo(name, epochs, settings, tmp_path):
    data = prepared()
    family, module = build(name, data, **settings)
    untrained = family.evaluate(module.eval(), data, tmp_path)
    fit(module.train(), data, history=tmp_path / "history.csv", max_epochs=epochs)
    trained = family.evaluate(module.eval(), data, tmp_path)
    history = read_history(tmp_path / "history.csv")
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    # Untrained, a Bernoulli decoder at p = ½ scores about −64·log 2 ≈ −44 nats per digit.
    assert trained["elbo"] > untrained["elbo"] + 12, (untrained["elbo"], trained["elbo"])
    assert trained["frechet"] < 0.6 * untrained["frechet"]
    for picture in ("samples", "reconstructions", "interpolations", "latent_scatter"):
        assert (tmp_path / f"{picture}.png").stat().st_size > 1000
    if name == "cvae":  # chance is 0.1
        assert trained["class_mean_accuracy"] >= 0.5 and trained["class_accuracy"] > 0.15, trained
    if name == "cluster_vae":
        assert trained["cluster_accuracy"] > untrained["cluster_accuracy"] + 0.15, (
            untrained,
            trained,
        )
        assert 0.7 < trained["kmeans_accuracy"] < 0.9
