"""Trick ``lazy_embedding``: rows that got no gradient in a step are not moved, not even by momentum
or Adam.

For an embedding, the rows of tokens absent from the batch get an all-zero gradient; momentum and
Adam would still move them (their moments are non-zero). With this trick those rows keep their
values and their optimizer state, as in bert4keras' lazy optimization and TensorFlow's LazyAdam.
``patterns`` chooses the parameters (default: all of them, where the rule also spares units that
were inactive for the whole batch); a row is the slice along a parameter's first dimension. An
optimizer wrapper puts the untouched rows back after the step.
"""

from __future__ import annotations

import torch

from pipeline import Trick
from plugins.tricks.patterns import matches, parameter_names, require_matches
from plugins.tricks.wrapped import WrappedOptimizer


class LazyRows(WrappedOptimizer):
    """Around the inner step, saves and restores the rows of ``lazy`` parameters whose gradient row
    is all zero,
    together with the same rows of every optimizer-state tensor shaped like the parameter."""

    def __init__(self, inner: torch.optim.Optimizer, lazy: list[torch.Tensor]):
        super().__init__(inner)
        self.lazy = [p for p in lazy if p.dim() >= 1]

    def inner_step(self) -> None:
        saved = []
        for p in self.lazy:
            if p.grad is None:
                continue
            grad = p.grad.reshape(p.shape[0], -1)
            # A row is untouched when its largest and smallest gradient are both 0 (faster than
            # eq(0).all()).
            rows = ((grad.amax(dim=1) == 0) & (grad.amin(dim=1) == 0)).nonzero().squeeze(1)
            if rows.numel():
                state = {
                    k: v.index_select(0, rows)
                    for k, v in self.state[p].items()
                    if isinstance(v, torch.Tensor) and v.shape == p.shape
                }
                saved.append((p, rows, p.detach().index_select(0, rows), state))
        self.inner.step()
        for p, rows, values, state in saved:
            p.detach().index_copy_(0, rows, values)
            for key, rows_before in state.items():
                self.state[p][key].index_copy_(0, rows, rows_before)


class LazyEmbedding(Trick):
    """Wraps the optimizer so the matching parameters update lazily."""

    def check(self, settings, module):
        require_matches(
            "tricks.lazy_embedding.patterns", settings["patterns"], parameter_names(module)
        )

    def wrap_optimizer(self, settings, optimizer):
        lazy = [
            p
            for group in optimizer.param_groups
            for name, p in zip(group["names"], group["params"], strict=True)
            if matches(name, settings["patterns"])
        ]
        return LazyRows(optimizer, lazy)
