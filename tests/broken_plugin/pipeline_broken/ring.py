"""Dataset ``ring``: points on two noisy circles, labelled by circle."""

from pipeline import DatasetSpec, hookimpl


def _load_ring(settings):
    import numpy as np

    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 200)
    label = np.arange(200) % 2
    radius = 0.25 + 0.2 * label + rng.normal(0, 0.02, 200)
    x = np.stack([0.5 + radius * np.cos(angle), 0.5 + radius * np.sin(angle)], axis=1)
    return x.astype(np.float32), label.astype(np.int64)


@hookimpl
def pipeline_datasets():
    return [DatasetSpec("ring", "two noisy circles", _load_ring)]
