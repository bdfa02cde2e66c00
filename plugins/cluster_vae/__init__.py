"""Model family ``cluster_vae``: a VAE whose prior is a Gaussian mixture, one component per cluster;
its spec is in :mod:`plugins.families`.

Unsupervised: labels are used only to score the clusters afterwards (majority-label accuracy).
"""
