"""Batches streamed from shards: one block in memory at a time, in an order that depends only on
(seed, epoch), whatever the number of processes and workers.

The epoch's order is a seeded permutation of all the split's blocks, and inside each block a
permutation of its rows seeded by (seed, epoch, block). Rank ``r`` of ``world`` takes the ``r``-th
contiguous share of the rows in that order, so no example is read twice in an epoch and shares
differ by one row at most; batches are cut across block boundaries. With ``num_workers``
DataLoader workers, worker ``w`` reads every ``num_workers``-th of the rank's pieces; the
DataLoader hands them back in turn, which is the rank's order again, so results do not depend on
the number of workers. Under DDP every rank runs as many steps as the rank with the fewest rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from pipeline.data.shards import Block, ShardSplit, read_block


class EpochSeed:
    """Lightning calls :meth:`set_epoch` at each epoch's start, as it does for a sampler."""

    def __init__(self, seed: int):
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


@dataclass(frozen=True)
class Piece:
    """Rows ``[start, stop)`` of block ``number`` (after the block's rows were permuted)."""

    number: int
    block: Block
    start: int
    stop: int


def rank_pieces(
    blocks: list[Block], rank: int, world: int, seed: int | None, epoch: int
) -> list[Piece]:
    """What rank ``rank`` reads this epoch: its contiguous share of the rows of all blocks, taken
    in storage order when ``seed`` is None, else in the (seed, epoch) permutation of the blocks.
    Shares differ by one row at most; a block at a share's edge is read by both ranks, each
    keeping its own rows."""
    order = (
        np.arange(len(blocks))
        if seed is None
        else np.random.default_rng([seed, epoch]).permutation(len(blocks))
    )
    total = sum(block.rows for block in blocks)
    first, last = rank * total // world, (rank + 1) * total // world
    pieces, offset = [], 0
    for number in order:
        block = blocks[number]
        start, stop = max(first - offset, 0), min(last - offset, block.rows)
        if start < stop:
            pieces.append(Piece(int(number), block, start, stop))
        offset += block.rows
    return pieces


class _BlockReader(IterableDataset):
    """Reads the pieces it is given, in their order, each block's rows permuted by (seed, epoch,
    block) when ``seed`` is set; a DataLoader worker reads every n-th piece."""

    def __init__(self, folder: Path, pieces: list[Piece], seed: int | None, epoch: int):
        self.folder, self.pieces, self.seed, self.epoch = folder, pieces, seed, epoch

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        worker = get_worker_info()
        mine = self.pieces if worker is None else self.pieces[worker.id :: worker.num_workers]
        for piece in mine:
            x, y = read_block(self.folder, piece.block)
            if self.seed is not None:
                rows = np.random.default_rng([self.seed, self.epoch, piece.number])
                order = rows.permutation(len(x))[piece.start : piece.stop]
                yield x[order], y[order]
            else:
                yield x[piece.start : piece.stop], y[piece.start : piece.stop]


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

    def _rows(self, rank: int) -> int:
        """Rows of ``rank``'s share, as :func:`rank_pieces` cuts it (the same every epoch)."""
        total = self.split.rows
        return (rank + 1) * total // self.world - rank * total // self.world

    def __len__(self) -> int:
        """Batches per epoch: the fewest of any rank, so ranks step together."""
        return min(math.ceil(self._rows(rank) / self.batch_size) for rank in range(self.world))

    @property
    def examples(self) -> int:
        """How many examples this rank serves in an epoch (what ``grad_accum`` weighs by)."""
        return min(self._rows(self.rank), len(self) * self.batch_size)

    def _pieces(self) -> Iterator[tuple[Any, Any]]:
        plan = rank_pieces(self.split.blocks, self.rank, self.world, self._seed(), self._epoch())
        reader = _BlockReader(self.split.folder, plan, self._seed(), self._epoch())
        if not self.num_workers:
            return iter(reader)
        loader = DataLoader(
            reader, batch_size=None, num_workers=self.num_workers, collate_fn=_as_read
        )
        return iter(loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        steps, size = len(self), self.batch_size
        carry_x: list[np.ndarray] = []
        carry_y: list[np.ndarray] = []
        carried = served = 0
        for x, y in self._pieces():
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


def _as_read(piece):
    """Pieces come back from workers as numpy arrays; batches are cut in the trainer's process."""
    return piece


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
