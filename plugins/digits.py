"""Dataset ``digits``: the 8×8 handwritten digits that ship inside scikit-learn (no download)."""

from __future__ import annotations


def load_digits_arrays(settings) -> tuple:
    """1,797 images as 64 pixels in [0, 1] and their labels 0–9."""
    import numpy as np
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)
