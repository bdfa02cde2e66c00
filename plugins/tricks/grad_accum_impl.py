"""The ``grad_accum`` trick: asks Lightning's Trainer for ``accumulate_grad_batches``."""
from __future__ import annotations

from pipeline import PipelineError, Trick


class GradAccum(Trick):
    """Accumulates gradients over ``k`` micro-batches."""

    def check(self, settings, module):
        if not module.automatic_optimization:
            raise PipelineError("tricks.grad_accum needs automatic optimization, but this model family steps its "
                                "optimizers itself; remove tricks.grad_accum or accumulate inside the family.")

    def trainer_kwargs(self, settings):
        return {"accumulate_grad_batches": settings["k"]}
