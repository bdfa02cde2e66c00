"""Each built-in optimizer's update written out in numpy, with torch's default constants.

``rule(theta, grad, state, settings)`` returns the parameter after one step; ``state`` starts
empty and carries the optimizer's buffers from step to step; ``settings`` is the validated
``optimizer:`` section (``lr`` η, ``weight_decay`` λ, and the optimizer's own settings).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8


def sgd(theta: np.ndarray, grad: np.ndarray, state: dict, settings: Mapping[str, Any]):
    """g ← ∇ + λθ;  θ ← θ − η g  (an Euler step of the gradient flow θ' = −∇L)."""
    return theta - settings["lr"] * (grad + settings["weight_decay"] * theta)


def momentum(theta: np.ndarray, grad: np.ndarray, state: dict, settings: Mapping[str, Any]):
    """g ← ∇ + λθ;  b ← g at the first step, else β b + g;  θ ← θ − η b  (heavy ball)."""
    g = grad + settings["weight_decay"] * theta
    b = state.get("b")
    state["b"] = g if b is None else settings["momentum"] * b + g
    return theta - settings["lr"] * state["b"]


def adam(theta: np.ndarray, grad: np.ndarray, state: dict, settings: Mapping[str, Any]):
    """g ← ∇ + λθ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    θ ← θ − η (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)."""
    return _adam(theta, grad + settings["weight_decay"] * theta, state, settings["lr"])


def adamw(theta: np.ndarray, grad: np.ndarray, state: dict, settings: Mapping[str, Any]):
    """θ ← θ (1 − ηλ), then Adam's step with the plain gradient ∇ (decoupled weight decay)."""
    theta = theta * (1 - settings["lr"] * settings["weight_decay"])
    return _adam(theta, grad, state, settings["lr"])


def rmsprop(theta: np.ndarray, grad: np.ndarray, state: dict, settings: Mapping[str, Any]):
    """g ← ∇ + λθ;  v ← αv + (1−α)g²;  b ← βb + g / (√v + ε);  θ ← θ − η b
    (β = 0: θ ← θ − η g / (√v + ε), gradient flow with an adaptive step)."""
    g = grad + settings["weight_decay"] * theta
    v = RMSPROP_ALPHA * state.get("v", 0.0) + (1 - RMSPROP_ALPHA) * g**2
    state["v"] = v
    step = g / (np.sqrt(v) + RMSPROP_EPS)
    if settings["momentum"] > 0:
        state["b"] = settings["momentum"] * state.get("b", 0.0) + step
        step = state["b"]
    return theta - settings["lr"] * step


def _adam(theta: np.ndarray, g: np.ndarray, state: dict, lr: float) -> np.ndarray:
    beta1, beta2 = ADAM_BETAS
    t = state.get("t", 0) + 1
    m = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    v = beta2 * state.get("v", 0.0) + (1 - beta2) * g**2
    state.update(t=t, m=m, v=v)
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + ADAM_EPS)
