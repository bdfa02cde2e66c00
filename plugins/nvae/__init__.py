"""Model family ``nvae``: a hierarchical VAE with a bidirectional encoder and residual normal
posteriors (NVAE, MLP-sized); its spec is in :mod:`plugins.families`."""
