"""Model family ``gan``: a GAN trained with one loss and one optimizer by cutting gradients; its
spec is in :mod:`plugins.families`."""
