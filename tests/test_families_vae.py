"""The VAE families: the KL terms are right, and a short run raises the held-out ELBO and each
family's own score."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Independent, Normal

from plugins.cluster_vae.family import majority_accuracy
from plugins.generative.vae import gaussian_kl
from tests.family_kit import build, fit, prepared, short_run

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


@pytest.mark.parametrize("name, epochs", [("vae", 25), ("cvae", 60), ("cluster_vae", 12)])
@pytest.mark.slow
def test_short_run_of_the_default_recipe_raises_the_elbo_and_its_score(name, epochs, tmp_path):
    """The family's conf/model settings trained for a fraction of its epochs, against stated
    floors below the default run's targets (coverage 1.0, per-class sample accuracy 0.9)."""
    untrained, trained, history = short_run(name, epochs, tmp_path)
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    # Untrained, a Bernoulli decoder at p = ½ scores about −64·log 2 ≈ −44 nats per digit.
    assert trained["elbo"] > untrained["elbo"] + 12, (untrained["elbo"], trained["elbo"])
    # The held-out ELBO is reported with its parts, which add up to it.
    assert trained["elbo"] == pytest.approx(-(trained["test_recon"] + trained["test_kl"]))
    assert trained["frechet"] < 0.6 * untrained["frechet"]
    assert trained["judge_accuracy"] >= 0.95
    if name != "cluster_vae":  # its mixture means are still their random start this early
        # Digits the judge reads confidently (probability ≥ 0.9) in a quarter of the run: the
        # vae's blurry 2-D latent samples reach 4 of 10 (0.8 after the full run), the cvae's 10.
        assert trained["mode_coverage"] >= (0.3 if name == "vae" else 0.9), trained
    for picture in ("samples", "reconstructions", "interpolations", "latent_scatter"):
        assert (tmp_path / f"{picture}.png").stat().st_size > 1000
    if name == "cvae":  # chance is 0.1
        assert trained["class_mean_accuracy"] == 1.0 and trained["class_accuracy"] >= 0.5, trained
        assert trained["class_accuracy_min"] <= trained["class_accuracy"]
    if name == "cluster_vae":
        assert trained["cluster_accuracy"] > untrained["cluster_accuracy"] + 0.15, (
            untrained,
            trained,
        )
        assert 0.7 < trained["kmeans_accuracy"] < 0.9
        assert 0 < trained["nmi"] <= 1 and trained["kmeans_ari"] > 0.5


def test_cluster_means_move_to_kmeans_centres_of_the_codes_at_kmeans_start():
    from lightning.pytorch import Callback
    from sklearn.cluster import KMeans

    class Watch(Callback):
        seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if batch_idx == 0:  # after every epoch-start hook, before the epoch's first step
                with torch.no_grad():  # every training example, in the order the epoch sees them
                    x = torch.cat([x for x, _ in trainer.train_dataloader])
                    codes, _ = module.encode(x)
                self.seen[trainer.current_epoch] = (module.cluster_means.detach().clone(), codes)

    data = prepared()
    _, module = build("cluster_vae", data, kmeans_start=2)
    watch = Watch()
    fit(module, data, max_epochs=3, callbacks=[watch])
    means, codes = watch.seen[2]
    centres = KMeans(n_clusters=10, n_init=10, random_state=0).fit(codes.double().numpy())
    torch.testing.assert_close(means, torch.from_numpy(centres.cluster_centers_).float())
    # Before that epoch the means were still their random start, far from the codes' centres.
    assert not torch.allclose(watch.seen[1][0], means, atol=0.1)
