"""Model family ``wgan_gp``: a Wasserstein GAN with gradient penalty, trained with one loss; its
spec is in :mod:`plugins.families`."""
