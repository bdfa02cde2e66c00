"""A Lightning DataModule over the prepared numpy splits (map-style, so workers and DDP shard it
safely)."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from pipeline.data import PreparedData, Split


def tensor_dataset(split: Split) -> TensorDataset:
    """The split as tensors ``(x, y)``."""
    return TensorDataset(torch.from_numpy(split.x), torch.from_numpy(split.y))


class ArrayDataModule(pl.LightningDataModule):
    """Serves train/val/test batches of the prepared data; training batches are shuffled."""

    def __init__(self, data: PreparedData, batch_size: int, seed: int):
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.seed = seed

    def train_dataloader(self) -> DataLoader:
        dataset = tensor_dataset(self.data.train)
        if self.trainer is not None and self.trainer.world_size > 1:
            # Lightning swaps in a DistributedSampler seeded from the global seed.
            return DataLoader(dataset, batch_size=self.batch_size, shuffle=True)
        # The order of epoch e depends only on (seed, e), so a resumed run sees the same batches.
        sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(tensor_dataset(self.data.val), batch_size=max(self.batch_size, 256))

    def test_dataloader(self) -> DataLoader:
        return DataLoader(tensor_dataset(self.data.test), batch_size=max(self.batch_size, 256))
