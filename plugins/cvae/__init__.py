"""Model family ``cvae``: a conditional VAE whose prior for class y is N(μ_y, I) with a learned μ_y."""
from __future__ import annotations

from pipeline import FamilySpec, hookimpl
from plugins.generative.settings import vae_settings

SETTINGS = vae_settings(latent=8, recon_weight=1.0)


def _load():
    from plugins.cvae.family import CVAEFamily

    return CVAEFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("cvae", "conditional VAE: KL toward a learned prior mean per class; sample a chosen class",
                       _load, SETTINGS)]
