"""Model family ``glann``: GLO codes and generator, then an IMLE map from Gaussian noise to the
codes; its spec is in :mod:`plugins.families`."""
