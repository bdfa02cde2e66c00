"""Dataset ``gaussian_mixture``: generated 1-D or 2-D Gaussian mixtures (no download).

In 2-D the components sit on a ring around (0.5, 0.5), in 1-D evenly along [0.15, 0.85]; every
component has the same weight and spread, and the label of a point is its component. Such toy data
make properties of generative models measurable: how many modes a generator covers, and the exact
Wasserstein distance between generated and real points.
"""

from __future__ import annotations


def centers(dims: int, components: int):
    """The component means: on a ring of radius 0.35 (2-D) or evenly along [0.15, 0.85] (1-D)."""
    import numpy as np

    if dims == 1:
        return np.linspace(0.15, 0.85, components).reshape(-1, 1)
    angles = 2 * np.pi * np.arange(components) / components
    return 0.5 + 0.35 * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def load_mixture(settings) -> tuple:
    """``examples`` points in [0, 1]^dims drawn evenly from the components, and their
    component labels."""
    import numpy as np

    rng = np.random.default_rng(settings["seed"])
    means = centers(settings["dims"], settings["components"])
    y = rng.integers(0, settings["components"], size=settings["examples"])
    x = means[y] + settings["std"] * rng.standard_normal((settings["examples"], settings["dims"]))
    # Pipeline datasets are scaled to [0, 1]; at std ≤ 0.2 clipping touches a negligible tail.
    return np.clip(x, 0.0, 1.0).astype(np.float32), y.astype(np.int64)
