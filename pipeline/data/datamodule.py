"""A Lightning DataModule over the prepared splits: batches sliced from tensors in memory on one
process, map-style DataLoaders that Lightning shards under DDP or that feed ``num_workers``
workers, and batches streamed block by block when the data was prepared as shards."""

from __future__ import annotations

from typing import Iterable

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from pipeline.data.batches import EpochOrder, TensorBatches
from pipeline.data.prepared import PreparedData
from pipeline.data.types import Split
from pipeline.errors import PipelineError

EVAL_BATCH = 256  # validation and test batches hold at least this many examples


def tensors(split: Split) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's arrays as tensors ``(x, y)``, sharing their memory."""
    return torch.from_numpy(split.x), torch.from_numpy(split.y)


def tensor_dataset(split: Split, indexed: bool = False) -> TensorDataset:
    """The split as a map-style dataset of ``(x, y)``, or ``(x, y, index)`` when ``indexed``."""
    x, y = tensors(split)
    return TensorDataset(x, y, torch.arange(len(x))) if indexed else TensorDataset(x, y)


class PreparedDataModule(pl.LightningDataModule):
    """Serves train/val/test batches of the prepared data; training batches are shuffled, in an
    order that depends only on (seed, epoch), so a resumed run sees the same batches."""

    def __init__(self, data: PreparedData, batch_size: int, seed: int, num_workers: int = 0):
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed
        self.num_workers = num_workers

    def _distributed(self) -> bool:
        return self.trainer is not None and self.trainer.world_size > 1

    def _indexed(self) -> bool:
        """Whether the module asks for ``(x, y, index)`` training batches
        (:attr:`pipeline.training.module.ModelModule.batch_indices`)."""
        module = self.trainer.lightning_module if self.trainer is not None else None
        return bool(getattr(module, "batch_indices", False))

    def train_dataloader(self) -> Iterable:
        indexed = self._indexed()
        if self.data.sharded:
            if indexed:
                raise PipelineError(
                    f"model {type(self.trainer.lightning_module).__name__} needs each training "
                    f"row's index, which data streamed from shards ({self.data.info.dataset}) "
                    "does not give; train it on a dataset that loads into memory."
                )
            return self._streamed(self.data.train, self.batch_size, self.seed)
        workers = self.num_workers
        if self._distributed():  # Lightning swaps in a DistributedSampler seeded from the seed
            dataset = tensor_dataset(self.data.train, indexed)
            return DataLoader(dataset, self.batch_size, shuffle=True, num_workers=workers)
        if workers:  # the order EpochOrder draws, so workers change no result
            dataset = tensor_dataset(self.data.train, indexed)
            sampler = DistributedSampler(dataset, num_replicas=1, rank=0, seed=self.seed)
            return DataLoader(dataset, self.batch_size, sampler=sampler, num_workers=workers)
        x, y = tensors(self.data.train)
        return TensorBatches(x, y, self.batch_size, EpochOrder(len(x), self.seed), indexed)

    def _streamed(self, split, batch_size: int, seed: int | None) -> Iterable:
        from pipeline.data.shard_batches import ShardBatches

        rank, world = (
            (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        )
        return ShardBatches(
            split, batch_size, seed, rank=rank, world=world, num_workers=self.num_workers
        )

    def val_dataloader(self) -> Iterable:
        return self._in_order(self.data.val)

    def test_dataloader(self) -> Iterable:
        return self._in_order(self.data.test)

    def _in_order(self, split: Split) -> Iterable:
        batch_size = max(self.batch_size, EVAL_BATCH)
        if self.data.sharded:
            return self._streamed(split, batch_size, None)
        if self._distributed():  # Lightning gives each process its share
            return DataLoader(tensor_dataset(split), batch_size=batch_size)
        return TensorBatches(*tensors(split), batch_size)
