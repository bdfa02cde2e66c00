"""The dynamics view of optimizers ("从动力学角度看优化算法" (一)(二)): a base optimizer is a
numerical solver of an ODE, so with a small step its trajectory follows the ODE's solution
(``scipy.integrate.solve_ivp``) with an error proportional to the step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from tests.optimizer_kit import (
    THETA0,
    A,
    B,
    Point,
    gradient,
    optimizer_for,
    settings_of,
    step,
    trajectory,
)

HORIZON = 2.0  # the ODE's time span the trajectories cover


def ode(rhs, y0: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The ODE's solution at ``times``, to far below the errors measured."""
    done = solve_ivp(rhs, (0, times[-1]), y0, t_eval=times, method="DOP853", rtol=1e-12, atol=1e-12)
    assert done.success
    return done.y.T


def sgd_error(lr: float) -> float:
    """Largest distance between SGD's θ_k and the gradient flow θ' = −∇L at t = k·lr."""
    steps = round(HORIZON / lr)
    path = trajectory(settings_of("sgd", lr=lr), steps)
    flow = ode(lambda t, theta: -gradient(theta), THETA0, lr * np.arange(steps + 1))
    return float(np.abs(path - flow).max())


def momentum_error(h: float, damping: float = 1.5) -> float:
    """Largest distance between heavy-ball SGD (lr = h², momentum = 1 − γh) and the heavy-ball
    ODE θ'' + γθ' + ∇L = 0, θ'(0) = 0, at t = k·h.

    With v_k = −h·b_k, torch's b_k = βb_{k−1} + ∇L(θ_k), θ_{k+1} = θ_k − lr·b_k reads
    θ_{k+1} = θ_k + h·v_k, v_k = v_{k−1} − h(γv_{k−1} + ∇L(θ_k)): Euler steps of size h of
    θ' = v, v' = −γv − ∇L."""
    steps = round(HORIZON / h)
    path = trajectory(settings_of("momentum", lr=h * h, momentum=1 - damping * h), steps)

    def heavy_ball(t, y):
        theta, v = y[:2], y[2:]
        return np.concatenate([v, -damping * v - gradient(theta)])

    exact = ode(heavy_ball, np.concatenate([THETA0, np.zeros(2)]), h * np.arange(steps + 1))
    return float(np.abs(path - exact[:, :2]).max())


def rmsprop_error(lr: float, rate: float = 2.0, eps: float = 1e-8) -> float:
    """Largest distance between RMSprop (α = 1 − κ·lr, no momentum) and the post's adaptive-step
    ODE θ' = −∇L / (√G + ε), G' = κ(∇L² − G) at t = k·lr.

    torch's RMSprop is G_{k+1} = αG_k + (1−α)∇L(θ_k)², θ_{k+1} = θ_k − lr·∇L(θ_k) / (√G_{k+1} + ε):
    Euler steps of size lr of that ODE. Both start from G(0) = ∇L(θ₀)² (the optimizer's running
    average is given that state), since the ODE's step size 1/√G is unbounded at G = 0."""
    steps = round(HORIZON / lr)
    settings = settings_of("rmsprop", lr=lr, momentum=0.0)
    point = Point(THETA0)
    optimizer = optimizer_for(point, settings)
    for group in optimizer.param_groups:
        group["alpha"] = 1 - rate * lr  # the optimizer's own constant, set for the limit taken
    g0 = torch.from_numpy(gradient(THETA0) ** 2)
    optimizer.state[point.theta].update(step=torch.tensor(0.0), square_avg=g0.clone())
    path = np.stack([THETA0, *(step(point, optimizer) for _ in range(steps))])

    def adaptive(t, y):
        theta, average = y[:2], y[2:]
        g = gradient(theta)
        return np.concatenate([-g / (np.sqrt(average) + eps), rate * (g**2 - average)])

    start = np.concatenate([THETA0, g0.numpy()])
    exact = ode(adaptive, start, lr * np.arange(steps + 1))
    return float(np.abs(path - exact[:, :2]).max())


@pytest.mark.parametrize(
    "measure, step", [(sgd_error, 0.02), (momentum_error, 0.02), (rmsprop_error, 0.01)]
)
def test_halving_the_step_halves_the_distance_to_the_ode(measure, step):
    errors = [measure(step / 2**i) for i in range(3)]
    assert errors[0] < 0.1  # close to the ODE at all
    ratios = [errors[i] / errors[i + 1] for i in range(2)]
    assert all(1.9 < r < 2.1 for r in ratios), (errors, ratios)  # first order: error ∝ step


def test_sgd_converges_to_the_flows_end_point():
    """Run long enough, SGD and the gradient flow both end at the minimiser A⁻¹b."""
    path = trajectory(settings_of("sgd", lr=0.05), 400)
    np.testing.assert_allclose(path[-1], np.linalg.solve(A, B), atol=1e-10)
