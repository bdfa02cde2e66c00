"""Model family ``ogan``: O-GAN, whose discriminator doubles as an encoder of the generator's noise."""
from __future__ import annotations

from pipeline import FamilySpec, Setting, hookimpl
from plugins.generative.settings import gan_settings, r1_setting

SETTINGS = {
    **gan_settings(latent=16),
    "r1": r1_setting(),
    "correlation_weight": Setting(0.5, "weight of −ρ(z, E(G(z))) in both players' losses", low=0),
}


def _load():
    from plugins.ogan.family import OGANFamily

    return OGANFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("ogan", "O-GAN: discriminator E(x) with score avg(E(x)) plus -Pearson(z, E(G(z))); E encodes",
                       _load, SETTINGS)]
