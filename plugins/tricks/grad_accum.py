"""Trick ``grad_accum`` ("soft batch"): average the gradients of k micro-batches, one optimizer step
per k.

Lightning's ``accumulate_grad_batches`` steps the optimizer (and step-interval schedulers) once per
k batches, so momentum, Adam moments and the step count advance once per k. Lightning divides each
micro-batch loss by k, which is too little weight for the epoch's last group when it holds fewer
than k batches or a short last batch; so each micro-batch is weighted by its share of its group's
examples instead (the module's ``loss_weight``, 1.0 in every full group). The result equals one
batch of k·b for mean-reduced losses, for any dataset length (BatchNorm breaks the equivalence by
design: it normalises each micro-batch on its own).
"""

from __future__ import annotations

import lightning.pytorch as pl
from torch.utils.data import BatchSampler, DataLoader

from pipeline import ModelModule, PipelineError, Trick


def batch_sizes(loader: object, batches: int) -> list[int]:
    """The sizes of the first ``batches`` batches ``loader`` yields in an epoch (read from its batch
    sampler,
    so nothing is drawn from the sampler or from any random generator)."""
    sampler = getattr(loader, "batch_sampler", None)
    if isinstance(getattr(loader, "examples", None), int) and batches != float("inf"):
        # The pipeline's in-memory batches: every batch full but the epoch's last.
        full, rest = divmod(loader.examples, loader.batch_size)
        return ([loader.batch_size] * full + ([rest] if rest else []))[: int(batches)]
    if (
        not isinstance(loader, DataLoader)
        or not isinstance(sampler, BatchSampler)
        or not hasattr(sampler.sampler, "__len__")
        or batches == float("inf")
    ):
        raise PipelineError(
            "tricks.grad_accum needs one training DataLoader of known length with a batch_size, "
            "but got "
            f"{loader!r}; return a DataLoader(dataset, batch_size=...) of a map-style dataset from "
            "train_dataloader, or remove tricks.grad_accum."
        )
    examples, size = len(sampler.sampler), sampler.batch_size
    full, rest = divmod(examples, size)
    return ([size] * full + ([rest] if rest and not sampler.drop_last else []))[: int(batches)]


def group_weights(sizes: list[int], k: int) -> list[float]:
    """Per batch, k·bᵢ / N: bᵢ its examples, N those of its group of k (the epoch's last group may
    be shorter).

    After Lightning divides each loss by k, a batch weighs bᵢ / N, so a group's gradient is the mean
    over
    its N examples, as one batch of N would give. A full group of equal batches weighs exactly 1.0
    each.
    """
    weights = []
    for start in range(0, len(sizes), k):
        group = sizes[start : start + k]
        weights.extend(k * size / sum(group) for size in group)
    return weights


class ExampleWeightedGroups(pl.Callback):
    """Sets the module's ``loss_weight`` before every training batch from this rank's own train
    loader."""

    def __init__(self) -> None:
        self.weights: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        sizes = batch_sizes(trainer.train_dataloader, trainer.num_training_batches)
        self.weights = group_weights(sizes, trainer.accumulate_grad_batches)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        pl_module.loss_weight = self.weights[batch_idx] if batch_idx < len(self.weights) else 1.0

    def on_train_end(self, trainer, pl_module) -> None:
        pl_module.loss_weight = 1.0


class GradAccum(Trick):
    """Accumulates gradients over ``k`` micro-batches, weighting each by its share of the group's
    examples."""

    def check(self, settings, module):
        if not module.automatic_optimization:
            raise PipelineError(
                "tricks.grad_accum needs automatic optimization, but this model family steps its "
                "optimizers itself; remove tricks.grad_accum or accumulate inside the family."
            )
        if not isinstance(module, ModelModule):
            raise PipelineError(
                "tricks.grad_accum needs a module subclassing pipeline.ModelModule (which applies "
                f"its loss weight), but this family built a {type(module).__name__}."
            )

    def trainer_kwargs(self, settings):
        return {"accumulate_grad_batches": settings["k"]}

    def callbacks(self, settings):
        return [ExampleWeightedGroups()]
