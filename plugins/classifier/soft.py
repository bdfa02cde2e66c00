"""Smooth stand-ins for non-differentiable classification metrics, usable as losses: the soft max,
soft accuracy and soft F1 of "函数光滑化杂谈:不可导函数的可导逼近" (smoothing non-differentiable
functions).

Each metric is computed from class probabilities in place of hard predictions: where the
probabilities are exactly 0 or 1 (a one-hot prediction), soft accuracy is the accuracy and soft F1
is the F1 score, so minimising 1 − metric trains toward the metric itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_max(x: torch.Tensor, temperature: float, dim: int = -1) -> torch.Tensor:
    """T·logsumexp(x / T) along ``dim``: between max(x) and max(x) + T·log n, so it tends to the
    max as the temperature T falls to 0 (the post's 1/K·log Σ e^{K·x} with K = 1/T)."""
    return temperature * torch.logsumexp(x / temperature, dim=dim)


def soft_accuracy(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean probability given to the true class: the accuracy when ``probs`` rows are one-hot."""
    return probs.gather(1, y.unsqueeze(1)).mean()


def soft_f1(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """F1 from probabilities: of class 1 for two classes (sklearn's binary F1), else the mean of
    every class's one-vs-rest F1 (sklearn's macro F1 over all classes).

    Counts are sums of probabilities: TP = Σ p·[y = c], FP = Σ p·[y ≠ c], FN = Σ (1 − p)·[y = c],
    F1 = 2TP / (2TP + FP + FN), and 0 for a class neither predicted nor present (as sklearn).
    """
    truth = F.one_hot(y, probs.shape[1]).to(probs.dtype)
    true_positive = (probs * truth).sum(0)
    predicted, actual = probs.sum(0), truth.sum(0)
    # 2TP + FP + FN = predicted + actual; a clamp at the smallest normal number leaves any
    # positive count untouched.
    f1 = 2 * true_positive / (predicted + actual).clamp_min(torch.finfo(probs.dtype).tiny)
    return f1[1] if probs.shape[1] == 2 else f1.mean()


def soft_accuracy_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 − soft accuracy of the softmax of ``logits``."""
    return 1 - soft_accuracy(logits.softmax(1), y)


def soft_f1_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """1 − soft F1 of the softmax of ``logits``."""
    return 1 - soft_f1(logits.softmax(1), y)


#: Each ``loss`` choice of the classifier: logits and labels → a mean-reduced loss (module-level
#: functions, so a module holding one pickles).
LOSSES = {
    "cross_entropy": F.cross_entropy,
    "soft_accuracy": soft_accuracy_loss,
    "soft_f1": soft_f1_loss,
}
