"""Model family ``iresnet``: an invertible residual network, a normalizing flow with an exact
likelihood; its spec is in :mod:`plugins.families`."""
