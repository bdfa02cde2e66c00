"""Deep INFOMAX: the Jensen–Shannon estimator's value on known distributions, the loss's parts,
and the probes evaluate reports beside PCA and a VAE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plugins.infomax.baseline import vae_codes
from plugins.infomax.estimators import batch_pairs, jsd_mi
from plugins.infomax.module import gaussian_kl
from plugins.infomax.probes import knn_accuracy, probe_accuracy
from tests.data_kit import prepared
from tests.family_kit import build

pytestmark = pytest.mark.usefixtures("one_thread")

P = np.array([0.5, 0.3, 0.15, 0.05])
Q = np.array([0.1, 0.2, 0.3, 0.4])


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """JSD(p ‖ q) = ½KL(p ‖ m) + ½KL(q ‖ m), m = (p + q)/2, in closed form (nats)."""
    m = (p + q) / 2
    return 0.5 * float(np.sum(p * np.log(p / m)) + np.sum(q * np.log(q / m)))


def estimate(critic: np.ndarray, samples: int = 400_000) -> float:
    """The estimator on draws from P (as "joint") and Q (as "marginal") scored by ``critic``."""
    generator = np.random.default_rng(0)
    joint = generator.choice(len(P), size=samples, p=P)
    marginal = generator.choice(len(Q), size=samples, p=Q)
    scores = torch.from_numpy(critic)
    return float(jsd_mi(scores[joint], scores[marginal]))


def test_the_jsd_estimator_at_the_optimal_critic_is_its_closed_form():
    # At T* = log P/Q the estimator equals 2·JSD(P ‖ Q) − 2 log 2.
    expected = 2 * jsd(P, Q) - 2 * math.log(2)
    assert estimate(np.log(P / Q)) == pytest.approx(expected, abs=5e-3)
    assert expectation(np.log(P / Q)) == pytest.approx(expected, abs=1e-12)


def expectation(critic: np.ndarray) -> float:
    """The estimator's population value: draws weighted by their probabilities, no sampling."""
    scores = torch.from_numpy(critic)
    softplus = torch.nn.functional.softplus
    return float(
        (torch.from_numpy(P) * -softplus(-scores)).sum()
        - (torch.from_numpy(Q) * softplus(scores)).sum()
    )


def test_any_other_critic_scores_lower_and_identical_distributions_give_the_floor():
    best = expectation(np.log(P / Q))
    for critic in (np.zeros(4), 2 * np.log(P / Q), np.log(P / Q) + 0.5):
        assert expectation(critic) < best - 1e-3
    # P = Q: the optimal critic is 0 and the value −2 log 2
    same = torch.zeros(10, dtype=torch.float64)
    assert float(jsd_mi(same, same)) == pytest.approx(-2 * math.log(2), abs=1e-12)


def test_negatives_pair_each_code_with_every_other_image_of_the_batch():
    scores = torch.arange(4 * 4 * 2.0).reshape(4, 4, 2)  # [code, image, location]
    joint, marginal = batch_pairs(scores)
    assert joint.tolist() == [scores[i, i].tolist() for i in range(4)]
    others = [scores[i, j].tolist() for i in range(4) for j in range(4) if i != j]
    assert marginal.tolist() == others  # 4 codes × 3 other images, each at 2 locations


def test_with_mi_weights_zero_the_loss_is_the_prior_term():
    data = prepared("digits")
    _, module = build("infomax", data, global_mi=0.0, local_mi=0.0, prior=0.3)
    x = torch.from_numpy(data.train.x[:32])
    loss, parts = module.objective(x)
    _, mu, logvar = module.encode(x)
    assert torch.allclose(loss, 0.3 * gaussian_kl(mu, logvar).mean(), rtol=0, atol=1e-6)
    assert set(parts) == {"prior"}
    loss.backward()
    critics = [*module.global_critic.parameters(), *module.local_critic.parameters()]
    assert all(p.grad is None for p in critics)  # nothing but the prior trains


def test_the_mi_terms_are_the_estimator_on_own_and_other_pairs():
    data = prepared("digits")
    _, module = build("infomax", data, global_mi=1.0, local_mi=0.0, prior=0.0)
    x = torch.from_numpy(data.train.x[:32])
    torch.manual_seed(1)
    loss, parts = module.objective(x)
    torch.manual_seed(1)
    features, mu, logvar = module.encode(x)
    z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
    scores = module.global_scores(z, features)
    own = torch.eye(32, dtype=torch.bool)
    expected = jsd_mi(scores[own], scores[~own])
    assert torch.allclose(parts["global_mi"], expected) and torch.allclose(loss, -expected)
    assert float(expected.detach()) < 0  # log σ and log(1 − σ) are negative


def test_evaluate_probes_a_vae_of_the_same_width_on_the_same_split(tmp_path):
    data = prepared("digits")
    loaded, module = build("infomax", data, latent=3, hidden=8, channels=4)
    loaded.vae_epochs = 2  # the baseline's budget, cut for the test
    metrics = loaded.evaluate(module.eval(), data, tmp_path)
    state = torch.get_rng_state()
    train, test = vae_codes(data, latent=3, epochs=2)
    assert torch.equal(torch.get_rng_state(), state)  # the baseline trains on its own seed
    assert train.shape == (len(data.train.x), 3) and test.shape == (len(data.test.x), 3)
    y_train, y_test = data.train.y, data.test.y
    assert metrics["vae_probe_accuracy"] == probe_accuracy(train, y_train, test, y_test)
    assert metrics["vae_knn_accuracy"] == knn_accuracy(train, y_train, test, y_test)
    assert {"probe_accuracy", "pca_probe_accuracy", "knn_accuracy", "pca_knn_accuracy"} <= set(
        metrics
    )
