"""A base for optimizers that wrap another one and add work around its step.

torch has no composable optimizer wrapper (its optimizers are leaves), so this one delegates
``param_groups``, ``state`` and ``defaults`` to the inner optimizer: schedulers, Lightning and
checkpoints see one ``torch.optim.Optimizer`` whose groups are the inner ones, and wrappers stack
(Lookahead around decoupled weight decay around Adam). A wrapper's own state is saved under its
``state_key`` inside the inner optimizer's ``state_dict``, so it travels with Lightning checkpoints.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import torch


class WrappedOptimizer(torch.optim.Optimizer):
    """Runs the closure, then :meth:`inner_step`; subclasses override that and the extra-state
    pair."""

    state_key: str | None = None

    def __init__(
        self, inner: torch.optim.Optimizer
    ):  # no super().__init__: the parameters belong to ``inner``
        self.inner = inner

    @property
    def param_groups(self) -> list[dict]:
        return self.inner.param_groups

    @property
    def state(self) -> Any:
        return self.inner.state

    @property
    def defaults(self) -> dict:
        return self.inner.defaults

    def parameters(self) -> Iterator[torch.Tensor]:
        """Every parameter of every group, in group order."""
        return (p for group in self.param_groups for p in group["params"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Evaluate the closure (backward and Lightning's before-step hooks), then step. Like every
        base
        optimizer here, the closure is evaluated once (LBFGS-style re-evaluation is not
        supported)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        with torch.no_grad():
            self.inner_step()
        return loss

    def inner_step(self) -> None:
        """One step of the inner optimizer, with this wrapper's work around it."""
        self.inner.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def extra_state(self) -> Any:
        """This wrapper's own state (saved when ``state_key`` is set)."""
        return None

    def load_extra_state(self, state: Any) -> None:
        """Restore what :meth:`extra_state` returned."""

    def state_dict(self) -> dict[str, Any]:
        state = self.inner.state_dict()
        if self.state_key is not None:
            state[self.state_key] = self.extra_state()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        extra = state_dict.pop(self.state_key, None) if self.state_key is not None else None
        self.inner.load_state_dict(state_dict)
        if extra is not None:
            self.load_extra_state(extra)

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"
