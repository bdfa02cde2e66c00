"""Datasets ``digits`` and ``digits_one_vs_rest``: the 8×8 handwritten digits that ship inside
scikit-learn (no download), with their ten labels or as one digit against the rest."""

from __future__ import annotations


def load_digits_arrays(settings) -> tuple:
    """1,797 images as 64 pixels in [0, 1] and their labels 0–9."""
    import numpy as np
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.data / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def load_one_vs_rest(settings):
    """The same images labelled 1 where the digit is ``settings["positive"]``, else 0."""
    from pipeline import Examples

    x, digit = load_digits_arrays(settings)
    positive = settings["positive"]
    y = (digit == positive).astype(digit.dtype)
    return Examples(x, y, labels=(f"not {positive}", str(positive)))
