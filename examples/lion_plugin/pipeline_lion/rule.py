"""Lion's update written out in numpy, for the pipeline's optimizer contract test."""

import numpy as np


def lion(theta, grad, state, settings):
    """θ ← θ(1 − ηλ) − η·sign(β₁m + (1−β₁)g);  m ← β₂m + (1−β₂)g  (m starts at 0)."""
    m = state.get("m", np.zeros_like(theta))
    beta1, beta2, lr = settings["beta1"], settings["beta2"], settings["lr"]
    theta = theta * (1 - lr * settings["weight_decay"]) - lr * np.sign(
        beta1 * m + (1 - beta1) * grad
    )
    state["m"] = beta2 * m + (1 - beta2) * grad
    return theta
