"""Model family ``gan``: a GAN trained with one loss and one optimizer by cutting gradients."""
from __future__ import annotations

from pipeline import FamilySpec, hookimpl
from plugins.generative.settings import gan_settings, r1_setting

SETTINGS = {
    **gan_settings(latent=16),
    "r1": r1_setting(),
}


def _load():
    from plugins.gan.family import GANFamily

    return GANFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("gan", "GAN in one loss: L_D(x, sg(G(z))) + lambda * L_G with D's parameters cut",
                       _load, SETTINGS)]
