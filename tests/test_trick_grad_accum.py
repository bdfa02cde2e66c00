"""grad_accum: k micro-batches of b give the weights of one batch of k·b, for any dataset length,
and the
optimizer steps once per k."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, DistributedSampler

from plugins.tricks.grad_accum import batch_sizes, group_weights
from tests.trick_kit import OPTIMIZERS, StepRecorder, Tiny, classification_data, fit, weights


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_k_micro_batches_equal_one_batch_of_k_times_b(optimizer):
    k, b, updates = 4, 8, 6
    data = classification_data(k * b * updates)
    torch.manual_seed(0)
    soft = Tiny()
    hard = copy.deepcopy(soft)
    start = weights(soft)

    soft_trainer = fit(soft, {"grad_accum": {"k": k}}, data, batch_size=b, optimizer=optimizer)
    hard_trainer = fit(hard, {}, data, batch_size=k * b, optimizer=optimizer)

    assert soft_trainer.global_step == hard_trainer.global_step == updates
    for name, value in weights(soft).items():
        torch.testing.assert_close(value, weights(hard)[name], rtol=0, atol=1e-6)
        assert not torch.allclose(value, start[name], atol=1e-3), (
            f"{name} barely moved; the test would prove nothing"
        )
    if optimizer == "adam":
        state = soft_trainer.optimizers[0].state
        assert {int(state[p]["step"]) for p in soft.parameters()} == {updates}


def plain_loop(
    module: torch.nn.Module, data, batch_size: int, optimizer: str, epochs: int
) -> list[dict[str, torch.Tensor]]:
    """Plain torch training over batches of ``batch_size`` (the last one partial); the weights after
    every step."""
    settings = OPTIMIZERS[optimizer]
    if optimizer == "adam":
        step = torch.optim.Adam(module.parameters(), lr=settings["lr"])
    else:
        step = torch.optim.SGD(
            module.parameters(), lr=settings["lr"], momentum=settings.get("momentum", 0)
        )
    after = []
    for _ in range(epochs):
        for x, y in DataLoader(data, batch_size=batch_size):
            step.zero_grad()
            F.cross_entropy(module(x), y).backward()
            step.step()
            after.append(weights(module))
    return after


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(
    "examples", [176, 179]
)  # 22 batches of 8; 22 of 8 and a last one of 3: groups of 4 end short
def test_any_dataset_length_equals_batches_of_k_times_b_step_by_step(examples, optimizer):
    k, b, epochs = 4, 8, 2
    data = classification_data(examples)
    torch.manual_seed(0)
    soft = Tiny()
    plain = copy.deepcopy(soft)
    recorder = StepRecorder()

    trainer = fit(
        soft,
        {"grad_accum": {"k": k}},
        data,
        batch_size=b,
        optimizer=optimizer,
        after=[recorder],
        max_epochs=epochs,
    )
    expected = plain_loop(plain, data, k * b, optimizer, epochs)

    assert trainer.global_step == len(expected) == 6 * epochs
    assert soft.loss_weight == 1.0
    for step, (got, want) in enumerate(zip(recorder.steps, expected, strict=True)):
        for name in want:
            torch.testing.assert_close(
                got[name], want[name], rtol=0, atol=1e-6, msg=f"step {step}, {name}"
            )
    moved = expected[-1]["net.0.weight"] - expected[-2]["net.0.weight"]
    assert moved.abs().max() > 1e-3, (
        "the last, short group barely moved the weights; the test would prove nothing"
    )


def test_each_batch_weighs_its_share_of_its_groups_examples():
    assert (
        group_weights([8] * 8, 4) == [1.0] * 8
    )  # exactly 1: full groups train bit for bit as before
    assert group_weights([8] * 6, 4) == [1.0] * 4 + [2.0, 2.0]
    assert group_weights([8] * 6 + [3], 4) == [1.0] * 4 + [4 * 8 / 19, 4 * 8 / 19, 4 * 3 / 19]


def test_batch_sizes_come_from_each_ranks_own_loader():
    data = classification_data(179)
    assert batch_sizes(DataLoader(data, batch_size=8), 23) == [8] * 22 + [3]
    assert batch_sizes(DataLoader(data, batch_size=8, drop_last=True), 22) == [8] * 22
    assert batch_sizes(DataLoader(data, batch_size=8), 5) == [8] * 5  # limit_train_batches
    # Under DDP each rank holds ⌈179 / 2⌉ = 90 examples (the sampler pads), so both ranks step
    # alike.
    for rank in (0, 1):
        sampler = DistributedSampler(data, num_replicas=2, rank=rank, shuffle=True, seed=0)
        assert batch_sizes(DataLoader(data, batch_size=8, sampler=sampler), 12) == [8] * 11 + [2]
