"""The energy-based model: its Langevin sampler draws from a known Gaussian energy's law, its loss
is contrastive divergence, and a short run of the recipe covers the ring of Gaussians."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plugins.ebm.langevin import langevin
from tests.family_kit import ADAM, CONF, build, fit, prepared, recipe

pytestmark = pytest.mark.usefixtures("one_thread")

MEAN = torch.tensor([0.3, -0.2], dtype=torch.float64)
COVARIANCE = torch.tensor([[0.04, 0.012], [0.012, 0.01]], dtype=torch.float64)


def test_langevin_on_a_quadratic_energy_reproduces_its_gaussian():
    precision = torch.linalg.inv(COVARIANCE)

    def energy(x):  # E(x) = ½(x − μ)ᵀΣ⁻¹(x − μ), so p ∝ exp(−E) is N(μ, Σ)
        centred = x - MEAN
        return 0.5 * ((centred @ precision) * centred).sum(1)

    start = torch.zeros(4000, 2, dtype=torch.float64)
    x = langevin(energy, start, steps=4000, step=2e-4, generator=torch.Generator().manual_seed(0))
    # 4000 chains: the sampling error of the mean is about 0.003 and of each covariance entry
    # about 0.001; the step's own bias, Σ·step/(4λ_min(Σ)), is under 1%.
    torch.testing.assert_close(x.mean(0), MEAN, atol=0.01, rtol=0)
    torch.testing.assert_close(torch.cov(x.T), COVARIANCE, atol=0.003, rtol=0)


def test_langevin_without_a_gradient_is_a_random_walk_and_keeps_to_the_box():
    def flat(x):
        return 0 * x.sum(1)

    start = torch.full((5000, 2), 0.5)
    walked = langevin(flat, start, steps=100, step=1e-4, generator=torch.Generator().manual_seed(1))
    # 100 steps of N(0, 1e-4) noise: standard deviation 0.1 per coordinate.
    assert walked.std(0).numpy() == pytest.approx([0.1, 0.1], rel=0.05)
    boxed = langevin(flat, start, steps=100, step=0.01, box=(0.0, 1.0))
    assert boxed.min() >= 0 and boxed.max() <= 1 and (boxed == 1).any()


def test_loss_is_contrastive_divergence_with_the_energy_penalty():
    data = prepared("gaussian_mixture")
    _, module = build("ebm", data, hidden=16, steps=3, energy_l2=0.5)
    real = torch.from_numpy(data.train.x[:32])
    torch.manual_seed(4)
    loss, parts = module.objective(real, train=False)
    torch.manual_seed(4)
    samples = module.negatives(32, keep=False)
    e_real, e_fake = module.energy(real), module.energy(samples)
    expected = e_real.mean() - e_fake.mean() + 0.5 * (e_real.pow(2) + e_fake.pow(2)).mean()
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(parts["e_fake"], e_fake.mean())
    # The samples reach the loss as constants: only the energy's weights get gradient.
    assert not samples.requires_grad


def test_training_chains_continue_in_the_replay_buffer():
    data = prepared("gaussian_mixture")
    _, module = build("ebm", data, hidden=16, steps=2, buffer=50, fresh=0.0)
    before = module.replay.clone()
    torch.manual_seed(0)
    samples = module.negatives(20, keep=True)
    changed = (module.replay != before).any(1)
    # The rows drawn now hold samples (a row drawn twice keeps its last); the others are untouched.
    assert 0 < int(changed.sum()) <= 20
    assert all((samples == row).all(1).any() for row in module.replay[changed])
    untouched = module.replay.clone()
    module.negatives(20, keep=False)
    assert torch.equal(module.replay, untouched)


@pytest.mark.slow
def test_short_run_of_the_recipe_covers_the_ring(tmp_path):
    """The recipe's settings and rate for 12 of its epochs: every mode but at most one is drawn."""
    from pipeline.params.hydra_groups import compose_params

    data = prepared("gaussian_mixture")
    settings, tricks = recipe("ebm")
    lr = compose_params(CONF, ["model=ebm"])["optimizer"]["lr"]
    family, module = build("ebm", data, **settings)
    fit(module.train(), data, tricks=tricks, optimizer={**ADAM, "lr": lr}, max_epochs=12)
    metrics = family.evaluate(module.eval(), data, tmp_path)
    assert metrics["mode_coverage"] >= 7 / 8, metrics
    # Real points sit lower in the landscape than uniform noise.
    noise = torch.rand(2000, 2, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        gap = float(module.energy(noise).mean()) - metrics["test_energy"]
    assert gap >= 1.0, gap
    assert (tmp_path / "energy.png").stat().st_size > 5000
    assert (tmp_path / "samples.png").is_file()
    assert np.isfinite(list(metrics.values())).all()
