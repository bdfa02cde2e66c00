"""Model family ``ebm``: an energy-based model trained by contrastive divergence with Langevin
samples from a replay buffer; its spec is in :mod:`plugins.families`."""
