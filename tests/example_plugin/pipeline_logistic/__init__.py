"""A complete third-party plugin: model family ``logistic`` and dataset ``blobs``."""
from pipeline import DatasetSpec, FamilySpec, Setting, hookimpl


def _load_family():
    from pipeline_logistic.family import LogisticFamily  # torch is imported only when a stage runs

    return LogisticFamily()


def _load_blobs(settings):
    import numpy as np
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n_samples=settings["samples"], centers=3, n_features=4, random_state=0)
    x = (x - x.min()) / (x.max() - x.min())
    return x.astype(np.float32), y.astype(np.int64)


@hookimpl
def pipeline_families():
    return [FamilySpec("logistic", "softmax regression", _load_family)]


@hookimpl
def pipeline_datasets():
    return [DatasetSpec("blobs", "three Gaussian blobs in 4-D", _load_blobs,
                        {"samples": Setting(600, "examples to generate", low=30)})]
