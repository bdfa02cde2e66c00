"""Trick ``grad_accum`` ("soft batch"): average the gradients of k micro-batches, one optimizer step per k.

Lightning's ``accumulate_grad_batches`` does the work: it divides each micro-batch loss by k and
steps the optimizer (and step-interval schedulers) once per k batches, so momentum, Adam moments and
the step count advance once per k. The result equals one batch of k·b for mean-reduced losses
(BatchNorm breaks the equivalence by design: it normalises each micro-batch on its own).
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl

SETTINGS = {"k": Setting(4, "micro-batches per optimizer step", kinds=(int,), low=1)}


def _load():
    from plugins.tricks.grad_accum_impl import GradAccum

    return GradAccum()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("grad_accum", "gradient accumulation: k micro-batches per optimizer step", _load, SETTINGS, order=10)]
