"""Shared pieces of the optimizer tests (no tests here): a known quadratic, and steps of a
registered optimizer plugin built exactly as the train stage builds it."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pipeline.params.validate import validate_optimizer
from pipeline.plugin.registry import Registry
from pipeline.training.optimization import base_optimizer, named_param_groups
from tests.data_kit import REGISTRY

# L(θ) = ½ θᵀAθ − bᵀθ with A symmetric positive definite: ∇L = Aθ − b, minimum at A⁻¹b.
A = np.array([[3.0, 1.0], [1.0, 2.0]])
B = np.array([1.0, -1.0])
THETA0 = np.array([1.5, -2.0])


def loss(theta: np.ndarray) -> float:
    """The quadratic's value at ``theta``."""
    return float(0.5 * theta @ A @ theta - B @ theta)


def gradient(theta: np.ndarray) -> np.ndarray:
    """The quadratic's gradient at ``theta``."""
    return A @ theta - B


def settings_of(name: str, registry: Registry = REGISTRY, **values: Any) -> dict[str, Any]:
    """The validated ``optimizer:`` section for optimizer ``name`` with ``values``."""
    return validate_optimizer({"name": name, **values}, registry)


class Point(torch.nn.Module):
    """One float64 parameter vector, the point the optimizer moves."""

    def __init__(self, theta: np.ndarray):
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor(theta, dtype=torch.float64))


def optimizer_for(
    point: Point, settings: Mapping[str, Any], registry: Registry = REGISTRY
) -> torch.optim.Optimizer:
    """The base optimizer of ``settings`` over ``point``, as the core builds it for a module."""
    return base_optimizer(registry.optimizer(settings["name"]), settings, named_param_groups(point))


def step(point: Point, optimizer: torch.optim.Optimizer) -> np.ndarray:
    """One optimizer step on the quadratic; returns the new point."""
    optimizer.zero_grad()
    theta = point.theta
    value = 0.5 * theta @ torch.from_numpy(A) @ theta - torch.from_numpy(B) @ theta
    value.backward()
    optimizer.step()
    return point.theta.detach().numpy().copy()


def trajectory(settings: Mapping[str, Any], steps: int, theta0: np.ndarray = THETA0) -> np.ndarray:
    """θ₀, θ₁, … θ_steps of the optimizer of ``settings`` on the quadratic."""
    point = Point(theta0)
    optimizer = optimizer_for(point, settings)
    return np.stack([theta0, *(step(point, optimizer) for _ in range(steps))])
