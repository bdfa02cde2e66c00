"""Training batches are sliced from tensors in memory, in the order a seeded DistributedSampler
would draw, so resumed runs and runs from before see the same batches."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from pipeline.data.batches import EpochOrder, TensorBatches


def test_each_epoch_draws_the_batches_of_a_seeded_distributed_sampler():
    x, y = torch.randn(629, 8), torch.randint(0, 10, (629,))
    dataset = TensorDataset(x, y)
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=3)
    loader = DataLoader(dataset, batch_size=64, sampler=sampler)
    batches = TensorBatches(x, y, 64, EpochOrder(len(x), seed=3))
    for epoch in (0, 1, 7):
        sampler.set_epoch(epoch)
        batches.sampler.set_epoch(epoch)
        expected, got = list(loader), list(batches)
        assert len(got) == len(batches) == len(expected) == 10
        for (ex, ey), (gx, gy) in zip(expected, got, strict=True):
            assert torch.equal(ex, gx) and torch.equal(ey, gy)


def test_an_epoch_order_depends_only_on_seed_and_epoch():
    first, second = EpochOrder(100, seed=5), EpochOrder(100, seed=5)
    first.set_epoch(4)
    first.indices()
    second.set_epoch(4)
    assert torch.equal(first.indices(), second.indices())
    second.set_epoch(5)
    assert not torch.equal(first.indices(), second.indices())


def test_unshuffled_batches_cover_the_split_in_order():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    batches = TensorBatches(x, y, 4)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert len(batches) == 3
