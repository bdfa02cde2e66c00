"""Model family ``wgan_gp``: a Wasserstein GAN with gradient penalty, trained with one loss."""
from __future__ import annotations

from pipeline import FamilySpec, Setting, hookimpl
from plugins.generative.settings import gan_settings

SETTINGS = {
    **gan_settings(latent=16),
    "penalty": Setting(10.0, "weight of the gradient penalty E(‖∇D(x̂)‖ − 1)²", low=0),
}


def _load():
    from plugins.wgan_gp.family import WGANGPFamily

    return WGANGPFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("wgan_gp", "WGAN-GP in one loss: critic E D(fake) - E D(real) + gradient penalty",
                       _load, SETTINGS)]
