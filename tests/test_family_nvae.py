"""The hierarchical VAE: every group's residual KL is the Gaussian KL of its posterior to its prior
and the groups add up to the loss's KL, one group is exactly the plain VAE, the exported generative
path is the decoder, and a short run of the recipe learns digits with every group in use."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from plugins.generative.vae import VAEModule
from tests.family_kit import build, fit, prepared, recipe

pytestmark = pytest.mark.usefixtures("one_thread")


def random_nvae(groups: int, **settings):
    """An nvae on digits with noise added to every weight (the start state and the prior heads
    begin at zero otherwise), so the priors below the top are far from N(0, I)."""
    data = prepared("digits")
    family, module = build("nvae", data, groups=groups, hidden=32, latent=4, **settings)
    generator = torch.Generator().manual_seed(groups)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.add_(0.2 * torch.randn(parameter.shape, generator=generator))
    x = torch.rand(40, 64, generator=generator)
    return family, module, x


def test_group_kls_are_gaussian_kls_nonnegative_and_sum_to_the_loss_kl():
    _, module, x = random_nvae(groups=3, warmup=0)
    torch.manual_seed(1)
    with torch.no_grad():
        descent = module.descend(x)
    priors = [Normal(mu, (0.5 * logvar).exp()) for mu, logvar in descent.priors]
    posteriors = [Normal(mu, (0.5 * logvar).exp()) for mu, logvar in descent.posteriors]
    assert float(priors[1].scale.log().abs().mean()) > 0.1  # the lower priors are not N(0, I)
    for kl, q, p in zip(descent.kls, posteriors, priors, strict=True):
        torch.testing.assert_close(kl, kl_divergence(q, p).sum(1))
        assert (kl >= 0).all() and float(kl.mean()) > 0.01

    torch.manual_seed(1)  # the same posterior sample again, through the training loss
    loss, parts = module.objective((x, None))
    assert set(parts) == {"recon", "kl", "kl_group_1", "kl_group_2", "kl_group_3"}
    kl_sum = sum(parts[f"kl_group_{i}"] for i in (1, 2, 3))
    torch.testing.assert_close(parts["kl"], kl_sum)
    torch.testing.assert_close(loss - parts["recon"], kl_sum)
    torch.testing.assert_close(kl_sum, torch.stack(descent.kls).sum(0).mean())


def test_one_group_nvae_is_the_vae_formula():
    """The top group's prior is fixed at N(0, I) (μ_p = 0, σ_p = 1), so with one group the
    residual posterior N(μ_p + Δμ, σ_p²Δσ²) is the VAE's N(μ, σ²) with μ = Δμ, log σ² = log Δσ²,
    which is what ``encode`` returns, and the residual KL is the VAE's ``gaussian_kl``. The
    generative path's ``decoder`` maps z = 0 + 1·ε to logits as the VAE's decoder does. So
    ``VAEModule.negative_elbo`` run on the nvae (encode, one ``randn_like`` draw, decoder,
    ``reconstruction_nll`` + ``gaussian_kl``) must give the nvae's own hierarchical −ELBO from the
    same seed: the same noise. Batch norm is in training mode, so every pass sees the same batch."""
    _, module, x = random_nvae(groups=1)
    module.train()
    torch.manual_seed(2)
    nvae_loss, nvae_parts = module.negative_elbo(x, None)
    torch.manual_seed(2)
    vae_loss, vae_parts = VAEModule.negative_elbo(module, x, None)
    torch.testing.assert_close(nvae_loss, vae_loss)
    torch.testing.assert_close(nvae_parts["recon"], vae_parts["recon"])
    torch.testing.assert_close(nvae_parts["kl"], vae_parts["kl"])
    assert float(vae_parts["kl"].mean()) > 0.1 and float(vae_parts["recon"].mean()) > 1

    # With two groups the flat formula no longer holds: z_2's prior follows the sampled z_1.
    _, module, x = random_nvae(groups=2)
    torch.manual_seed(2)
    nvae_loss, _ = module.negative_elbo(x, None)
    torch.manual_seed(2)
    vae_loss, _ = VAEModule.negative_elbo(module, x, None)
    assert float((nvae_loss - vae_loss).abs().max()) > 0.1


def test_kl_warm_up_weighs_the_kl_in_training_only():
    _, module, x = random_nvae(groups=2, warmup=4)
    module.train()  # no trainer: epoch 0, so β = 1/(4 + 1)
    torch.manual_seed(3)
    loss, parts = module.objective((x, None))
    torch.testing.assert_close(loss, parts["recon"] + 0.2 * parts["kl"])
    module.eval()
    torch.manual_seed(3)
    loss, parts = module.objective((x, None))
    torch.testing.assert_close(loss, parts["recon"] + parts["kl"])


def test_exported_generative_path_decodes_the_noise_of_every_group():
    family, module, _ = random_nvae(groups=3)
    module.eval()
    network, noise = family.export_target(module, prepared("digits"))
    assert noise.shape == (256, 12)  # three groups of four
    with torch.no_grad():
        images = network(noise)
        torch.testing.assert_close(images, module.decode(noise))
        # Each group's noise reaches the image.
        for group in range(3):
            moved = noise.clone()
            moved[:, 4 * group : 4 * group + 4] += 1.0
            assert float((network(moved) - images).abs().mean()) > 1e-3, group
    assert ((images >= 0) & (images <= 1)).all()


@pytest.mark.slow
def test_short_run_of_the_recipe_learns_digits_with_every_group(tmp_path):
    """The recipe for 25 of its 100 epochs, with weaker floors than the full run's figures: it
    reaches ELBO −25.35, every group's KL ≥ 0.18 and 9 of 10 digits (the full run: see
    docs/families.md)."""
    data = prepared("digits")
    settings, tricks = recipe("nvae")
    family, module = build("nvae", data, **settings)
    fit(module.train(), data, tricks=tricks, max_epochs=25)
    metrics = family.evaluate(module.eval(), data, tmp_path)
    assert metrics["elbo"] >= -26.0, metrics
    kls = [metrics[f"test_kl_group_{i}"] for i in range(1, settings["groups"] + 1)]
    assert min(kls) >= 0.1, kls
    assert metrics["test_kl"] == pytest.approx(sum(kls), rel=1e-5)
    assert metrics["mode_coverage"] >= 0.7, metrics
    for picture in ("samples", "real_and_samples", "hierarchy", "reconstructions"):
        assert (tmp_path / f"{picture}.png").stat().st_size > 5000, picture
