"""Trick ``lookahead``: Lookahead (Zhang et al., 2019) around whatever base optimizer is configured.

The base optimizer takes k fast steps; then the slow weights move toward the fast ones,
φ ← φ + α(θ − φ), and the fast weights restart from them, θ ← φ. The slow weights start at the
initial weights and are saved in the optimizer's state, so a resumed run continues the same cycle.

No Lookahead implementation ships with torch or Lightning and none is installed here (timm's, the
best-kept one, would be a large dependency for 30 lines, and it starts the slow weights at θ_k
rather than θ₀), so this small wrapper is written out.
"""

from __future__ import annotations

import torch

from pipeline import Trick
from plugins.tricks.wrapped import WrappedOptimizer


class Lookahead(WrappedOptimizer):
    """Every ``k`` inner steps: slow ← slow + α(fast − slow), fast ← slow."""

    state_key = "lookahead"

    def __init__(self, inner: torch.optim.Optimizer, k: int, alpha: float):
        super().__init__(inner)
        self.k, self.alpha = k, alpha
        self.steps = 0
        self.slow = [p.detach().clone() for p in self.parameters()]

    def inner_step(self) -> None:
        self.inner.step()
        self.steps += 1
        if self.steps % self.k == 0:
            fast = list(self.parameters())
            # lerp is exact at the ends: α = 1 leaves the fast weights untouched, bit for bit.
            torch._foreach_lerp_(self.slow, [p.detach() for p in fast], self.alpha)
            torch._foreach_copy_([p.detach() for p in fast], self.slow)

    def extra_state(self) -> dict:
        return {"steps": self.steps, "slow": self.slow}

    def load_extra_state(self, state: dict) -> None:
        self.steps = int(state["steps"])
        for slow, saved in zip(self.slow, state["slow"], strict=True):
            slow.copy_(saved)


class LookaheadTrick(Trick):
    """Wraps the optimizer in :class:`Lookahead`."""

    def wrap_optimizer(self, settings, optimizer):
        return Lookahead(optimizer, settings["k"], settings["alpha"])
