"""Stops a training the step it diverges, so a run whose loss or weights blew up never passes as
trained."""

from __future__ import annotations

import math
from typing import Any

import lightning.pytorch as pl
import torch
from typing_extensions import override

from pipeline.errors import PipelineError

# A loss this many times its first value (or 1, when that is smaller) has left any useful region.
# Learning rates that train slowly or noisily, and GAN losses, stay far below it; the learning rates
# that ruin the default classifier (adam 1e3 and above) cross it at their second step.
EXPLOSION = 1e6
FULL_PRECISION = ("32-true", "64-true")


class TrainingDiverged(PipelineError):
    """The training loss or a weight stopped being finite, or the loss exploded."""


class DivergenceGuard(pl.Callback):
    """Raises :class:`TrainingDiverged` at the end of the first batch whose loss is not finite (the
    ``training_step`` output, and every loss a manually optimized family backpropagates) or exceeds
    :data:`EXPLOSION` times the run's first, and at the end of an epoch after whose last optimizer
    step a weight is not finite.

    A batch costs one foreach norm over its losses, a stack, and one read from the device. The
    weights are summed once per epoch only: over a large model that sum costs as much as a few
    percent of a step, and a weight that stops being finite makes the next batch's loss non-finite
    anyway (a table row no batch reads until the epoch ends is caught then). Gradients need no pass
    of their own: a non-finite gradient makes the weights non-finite at its step (a gradient scaler
    skips such steps instead, as it should), and the message then names the gradient.
    """

    def __init__(self, lr: float):
        self.lr = lr
        # |loss| of the run's first batch; checkpointed, so a resume keeps it
        self.first_loss: float | None = None
        self._names: list[str] = []
        self._params: list[torch.Tensor] = []
        self._weights: list[torch.Tensor] = []
        self._norm_dtype: torch.dtype | None = None
        self._automatic = True
        self._distributed = False
        self._stepped = False
        self._backward_losses: list[torch.Tensor] = []

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        named = [(n, p) for n, p in pl_module.named_parameters() if p.requires_grad]
        # Detached views share the weights' storage, so they see every in-place optimizer step, and
        # norms of them build no autograd graph (cheaper than entering no_grad at every batch).
        self._names, self._params = [n for n, _ in named], [p for _, p in named]
        self._weights = [p.detach() for p in self._params]
        # A half-precision sum of |w| overflows on healthy weights; accumulate it in float32.
        half = any(p.dtype in (torch.float16, torch.bfloat16) for p in self._params)
        self._norm_dtype = torch.float32 if half else None
        self._automatic = pl_module.automatic_optimization
        self._distributed = trainer.world_size > 1

    @override
    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        if (
            not self._automatic
        ):  # automatic optimization's loss is the step output, and unscaled there
            self._backward_losses.append(loss.detach())

    @override
    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        self._stepped = True

    @override
    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        loss = _step_loss(outputs)
        tensors = ([loss] if loss is not None else []) + self._backward_losses
        if trainer.is_last_batch:
            tensors += self._weights
        if not tensors:
            return
        # The sum of |x| of each tensor: finite exactly when all its values are (float32 sums cannot
        # overflow the float64 total), and for the step loss its magnitude.
        sizes = torch.stack(torch._foreach_norm(tensors, 1, dtype=self._norm_dtype)).tolist()
        ok = math.isfinite(sum(sizes))
        if ok and loss is not None and self._automatic:
            if self.first_loss is None:
                self.first_loss = sizes[0]
            ok = sizes[0] <= EXPLOSION * max(self.first_loss, 1.0)
        if (
            self._distributed
        ):  # every process must stop at the same step, or the others wait forever
            ok = trainer.strategy.reduce_boolean_decision(ok, all=True)
        if not ok:
            step = (
                trainer.global_step if self._stepped else trainer.global_step + 1
            )  # made, or accumulating for
            raise TrainingDiverged(self._message(trainer, step, loss))
        self._stepped = False
        self._backward_losses.clear()

    def _message(self, trainer: pl.Trainer, step: int, loss: torch.Tensor | None) -> str:
        scaled = getattr(trainer.precision_plugin, "scaler", None) is not None
        cause, non_finite = self._cause(loss, scaled, trainer.world_size > 1)
        advice = f"the learning rate (optimizer.lr = {self.lr:g}) is likely too high — lower it"
        precision = str(trainer.precision)
        if (
            non_finite and precision not in FULL_PRECISION
        ):  # half precision overflows where 32 bits would not
            advice += f" (or use trainer.precision = 32-true instead of {precision})"
        return (
            f"training diverged at epoch {trainer.current_epoch}, step {step}: {cause}; {advice}."
        )

    def _cause(
        self, loss: torch.Tensor | None, scaled: bool, distributed: bool
    ) -> tuple[str, bool]:
        """What went wrong, and whether a value stopped being finite (rather than the loss
        exploding)."""
        for value in ([loss] if loss is not None else []) + self._backward_losses:
            if not torch.isfinite(value).all():
                return f"the loss {_describe(value)}", True
        for name, param in zip(self._names, self._params, strict=True):
            # A gradient scaler skips steps with overflowing gradients: those are no sign of
            # divergence.
            if (
                not scaled
                and param.grad is not None
                and not torch.isfinite(grad := _dense(param.grad)).all()
            ):
                return f"the gradient of {name} {_describe(grad)}", True
        for name, param in zip(self._names, self._params, strict=True):
            if not torch.isfinite(param).all():
                return f"the weight {name} {_describe(param)} after the optimizer step", True
        if (
            loss is not None
            and self.first_loss is not None
            and float(loss.abs()) > EXPLOSION * max(self.first_loss, 1.0)
        ):
            return (
                f"the loss grew to {float(loss):.3g}, more than {EXPLOSION:,.0f} times its first "
                "value "
                f"({self.first_loss:.3g})"
            ), False
        return "the weights grew past the largest float" + (
            ", or another process diverged" if distributed else ""
        ), True

    @override
    def state_dict(self) -> dict[str, Any]:
        return {"first_loss": self.first_loss}

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.first_loss = state_dict.get("first_loss")


def _step_loss(outputs: Any) -> torch.Tensor | None:
    """The scalar loss ``training_step`` returned (Lightning hands it on as ``{"loss": ...}``), if
    any."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if isinstance(outputs, torch.Tensor) and outputs.is_floating_point() and outputs.numel() == 1:
        return outputs
    return None


def _dense(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.coalesce().values() if tensor.is_sparse else tensor


def _describe(tensor: torch.Tensor) -> str:
    """``is nan`` (or ``inf``, ``-inf``) for a scalar; ``holds 3 nan/inf values`` for a larger
    tensor."""
    tensor = tensor.detach()
    if tensor.numel() == 1:
        return f"is {float(tensor)}"
    return f"holds {int((~torch.isfinite(tensor)).sum())} nan/inf values"
