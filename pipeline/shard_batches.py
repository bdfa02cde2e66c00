"""Batches streamed from shards: one block in memory at a time, in an order that depends only on
(seed, epoch), whatever the number of processes and workers.

The epoch's order is a seeded permutation of all the split's blocks; rank ``r`` of ``world``
takes every ``world``-th block of it, so no example is read twice in an epoch. Inside a block the
rows are permuted with a seed of their own, and batches are cut across block boundaries. With
``num_workers`` DataLoader workers, worker ``w`` reads every ``num_workers``-th of the rank's
blocks; the DataLoader hands them back in turn, which is the rank's order again, so results do not
depend on the number of workers. Under DDP every rank runs as many steps as the rank with the
fewest rows; the others leave their last rows out.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline.shards import Block, ShardSplit, read_block


class EpochSeed:
    """Lightning calls :meth:`set_epoch` at each epoch's start, as it does for a sampler."""

    def __init__(self, seed: int):
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def rank_blocks(
    blocks: list[Block], rank: int, world: int, seed: int | None, epoch: int
) -> list[tuple[int, Block]]:
    """``(block number, block)`` pairs rank ``rank`` reads this epoch: in storage order when
    ``seed`` is None, else in the (seed, epoch) permutation."""
    order = (
        np.arange(len(blocks))
        if seed is None
        else np.random.default_rng([seed, epoch]).permutation(len(blocks))
    )
    return [(int(number), blocks[number]) for number in order[rank::world]]


class _BlockReader(IterableDataset):
    """Reads the blocks it is given, in their order; a DataLoader worker reads every n-th."""

    def __init__(self, folder: Path, blocks: list[tuple[int, Block]]):
        self.folder, self.blocks = folder, blocks

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        worker = get_worker_info()
        mine = self.blocks if worker is None else self.blocks[worker.id :: worker.num_workers]
        for number, block in mine:
            yield (number, *read_block(self.folder, block))


class ShardBatches:
    """Iterates ``(x, y)`` tensor batches of a :class:`ShardSplit`: shuffled by (seed, epoch) when
    ``seed`` is given, in storage order otherwise (validation and test)."""

    def __init__(
        self,
        split: ShardSplit,
        batch_size: int,
        seed: int | None = None,
        *,
        rank: int = 0,
        world: int = 1,
        num_workers: int = 0,
    ):
        self.split, self.batch_size = split, batch_size
        self.rank, self.world, self.num_workers = rank, world, num_workers
        self.sampler = None if seed is None else EpochSeed(seed)
        self.batch_sampler = None  # Lightning looks for one

    def _seed(self) -> int | None:
        return None if self.sampler is None else self.sampler.seed

    def _epoch(self) -> int:
        return 0 if self.sampler is None else self.sampler.epoch

    def _plan(self, rank: int) -> list[tuple[int, Block]]:
        return rank_blocks(self.split.blocks, rank, self.world, self._seed(), self._epoch())

    def __len__(self) -> int:
        """Batches per epoch: the fewest of any rank, so ranks step together."""
        return min(
            math.ceil(sum(block.rows for _, block in self._plan(rank)) / self.batch_size)
            for rank in range(self.world)
        )

    @property
    def examples(self) -> int:
        """How many examples this rank serves in an epoch (what ``grad_accum`` weighs by)."""
        rows = sum(block.rows for _, block in self._plan(self.rank))
        return min(rows, len(self) * self.batch_size)

    def _blocks(self, plan: list[tuple[int, Block]]) -> Iterator[tuple[int, Any, Any]]:
        reader = _BlockReader(self.split.folder, plan)
        if not self.num_workers:
            return iter(reader)
        loader = DataLoader(
            reader,
            batch_size=None,
            num_workers=self.num_workers,
            collate_fn=_as_read,
        )
        return iter(loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        steps, size = len(self), self.batch_size
        seed, epoch = self._seed(), self._epoch()
        carry_x: list[np.ndarray] = []
        carry_y: list[np.ndarray] = []
        carried = served = 0
        for number, x, y in self._blocks(self._plan(self.rank)):
            if seed is not None:
                order = np.random.default_rng([seed, epoch, number]).permutation(len(x))
                x, y = x[order], y[order]
            carry_x.append(x)
            carry_y.append(y)
            carried += len(x)
            while carried >= size and served < steps:
                batch_x, batch_y = _take(carry_x, size), _take(carry_y, size)
                carried -= size
                served += 1
                yield torch.from_numpy(batch_x), torch.from_numpy(batch_y)
            if served == steps:
                return
        if carried and served < steps:
            yield (
                torch.from_numpy(np.concatenate(carry_x)),
                torch.from_numpy(np.concatenate(carry_y)),
            )


def _as_read(block):
    """Blocks come back from workers as read (numpy; rows are permuted in the main process)."""
    return block


def _take(parts: list[np.ndarray], size: int) -> np.ndarray:
    """Remove and return the first ``size`` rows of the arrays in ``parts``."""
    taken, need = [], size
    while need:
        head = parts[0]
        if len(head) <= need:
            taken.append(parts.pop(0))
            need -= len(head)
        else:
            taken.append(head[:need])
            parts[0] = head[need:]
            need = 0
    return taken[0] if len(taken) == 1 else np.concatenate(taken)
