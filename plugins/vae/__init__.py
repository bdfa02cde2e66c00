"""Model family ``vae``: a variational autoencoder with a standard-normal prior and a Bernoulli
decoder; its spec is in :mod:`plugins.families`."""
