"""Model family ``vae``: a variational autoencoder with a standard-normal prior and a Bernoulli decoder."""
from __future__ import annotations

from pipeline import FamilySpec, hookimpl
from plugins.generative.settings import vae_settings

SETTINGS = vae_settings(latent=2, recon_weight=1.0)


def _load():
    from plugins.vae.family import VAEFamily

    return VAEFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("vae", "variational autoencoder: encoder -> (mu, log var), Bernoulli decoder, N(0, I) prior",
                       _load, SETTINGS)]
