"""Model family ``cvae``: a conditional VAE whose prior for class y is N(μ_y, I) with a learned μ_y;
its spec is in :mod:`plugins.families`."""
