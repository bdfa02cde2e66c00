"""Model family ``cluster_vae``: a VAE whose prior is a Gaussian mixture, one component per cluster.

Unsupervised: labels are used only to score the clusters afterwards (majority-label accuracy).
"""
from __future__ import annotations

from pipeline import FamilySpec, Setting, hookimpl
from plugins.generative.settings import vae_settings

SETTINGS = {
    **vae_settings(latent=8, recon_weight=2.5),
    "clusters": Setting(10, "mixture components, i.e. clusters to find", low=2),
}


def _load():
    from plugins.cluster_vae.family import ClusterVAEFamily

    return ClusterVAEFamily()


@hookimpl
def pipeline_families() -> list[FamilySpec]:
    return [FamilySpec("cluster_vae", "clustering VAE: Gaussian-mixture prior, p(y|z) learned jointly; unsupervised",
                       _load, SETTINGS)]
