"""Settings the generative families share (no heavy imports: the registration modules use these)."""

from __future__ import annotations

from pipeline import Setting


def vae_settings(latent: int, recon_weight: float) -> dict[str, Setting]:
    """Network width, latent size and reconstruction weight of a VAE family, with its defaults."""
    return {
        "hidden": Setting(
            128, "units of each hidden ReLU layer (encoder, decoder and any extra head)", low=1
        ),
        "latent": Setting(latent, "latent dimensions (2 draws the latent space directly)", low=1),
        "recon_weight": Setting(
            recon_weight,
            "weight of the reconstruction term: 1 trains the plain ELBO, "
            "above 1 keeps more information in z",
            low=0,
            low_open=True,
        ),
    }


def gan_settings(latent: int) -> dict[str, Setting]:
    """Network width, noise size and the generator's share of the single loss."""
    return {
        "hidden": Setting(
            128, "units of each hidden LeakyReLU layer (generator and discriminator)", low=1
        ),
        "latent": Setting(latent, "dimensions of the generator's Gaussian noise z", low=1),
        "generator_weight": Setting(
            1.0, "λ in L = L_D + λ·L_G: the generator's share of the single loss", low=0
        ),
    }


def r1_setting() -> Setting:
    """Weight of the zero-centred penalty that lets a single-loss GAN's simultaneous steps
    converge."""
    return Setting(
        10.0, "weight γ of the penalty γ/2·E‖∇D(x)‖² on real data; 0 turns it off", low=0
    )
