"""The blobs dataset: three Gaussian blobs in 4-D, scaled to [0, 1]."""

import numpy as np
from sklearn.datasets import make_blobs


def load_blobs(settings):
    x, y = make_blobs(n_samples=settings["samples"], centers=3, n_features=4, random_state=0)
    x = (x - x.min()) / (x.max() - x.min())
    return x.astype(np.float32), y.astype(np.int64)
