"""Trick ``grad_accum`` ("soft batch"): average the gradients of k micro-batches, one optimizer step per k.

Lightning's ``accumulate_grad_batches`` steps the optimizer (and step-interval schedulers) once per k
batches, so momentum, Adam moments and the step count advance once per k. Lightning divides each
micro-batch loss by k, which is too little weight for the epoch's last group when it holds fewer than
k batches or a short last batch; so each micro-batch is weighted by its share of its group's
examples instead (the module's ``loss_weight``, 1.0 in every full group). The result equals one
batch of k·b for mean-reduced losses, for any dataset length (BatchNorm breaks the equivalence by
design: it normalises each micro-batch on its own).
"""
from __future__ import annotations

from pipeline import Setting, TrickSpec, hookimpl

SETTINGS = {"k": Setting(2, "micro-batches per optimizer step", kinds=(int,), low=1)}


def _load():
    from plugins.tricks.grad_accum_impl import GradAccum

    return GradAccum()


@hookimpl
def pipeline_tricks() -> list[TrickSpec]:
    return [TrickSpec("grad_accum", "gradient accumulation: k micro-batches per optimizer step", _load, SETTINGS, order=10)]
