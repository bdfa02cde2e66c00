"""Batches sliced from tensors already in memory: what a hand-written loop does, with no per-example
indexing or collating.

A DataLoader over a TensorDataset fetches each example of a batch on its own and stacks them again;
on small models that costs as much as the step. Here a batch is one indexing of the whole tensors.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch


class EpochOrder:
    """The shuffled order of epoch ``e``: ``randperm`` seeded with ``seed + e``, exactly what
    ``DistributedSampler(num_replicas=1, shuffle=True, seed=seed)`` draws, so the order depends on
    (seed, epoch) alone and a resumed run sees the batches an uninterrupted one would.

    Lightning calls :meth:`set_epoch` at the start of every epoch, as it does for a sampler.
    """

    def __init__(self, size: int, seed: int):
        self.size, self.seed, self.epoch = size, seed, 0

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of ``epoch`` on the next pass."""
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """This epoch's permutation of ``range(size)``."""
        generator = torch.Generator()
        generator.manual_seed(self.seed + self.epoch)
        return torch.randperm(self.size, generator=generator)


class TensorBatches:
    """Iterates ``(x, y)`` batches of ``batch_size`` (the last one may be smaller), in the order
    ``sampler`` gives, or in storage order when ``sampler`` is None (validation and test).

    ``indexed`` adds each row's position in ``x`` as a third tensor, ``(x, y, index)``, for models
    that keep a parameter per training example (GLO's latent codes)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        sampler: EpochOrder | None = None,
        indexed: bool = False,
    ):
        if len(x) != len(y):
            raise ValueError(f"{len(x)} inputs but {len(y)} labels")
        self.x, self.y, self.batch_size, self.indexed = x, y, batch_size, indexed
        # Where Lightning looks for a sampler to call set_epoch on (and, finding no batch
        # sampler, learns that evaluation batches are not shuffled).
        self.sampler, self.batch_sampler = sampler, None

    @property
    def examples(self) -> int:
        """How many examples an epoch serves (what ``grad_accum`` weighs its groups by)."""
        return len(self.x)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        size, step = len(self.x), self.batch_size
        if self.sampler is None:
            for start in range(0, size, step):  # views, no copy
                end = min(start + step, size)
                index = (torch.arange(start, end),) if self.indexed else ()
                yield self.x[start:end], self.y[start:end], *index
            return
        order = self.sampler.indices()
        for start in range(0, size, step):
            picked = order[start : start + step]
            index = (picked,) if self.indexed else ()
            yield self.x.index_select(0, picked), self.y.index_select(0, picked), *index
