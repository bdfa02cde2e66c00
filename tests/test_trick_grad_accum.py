"""grad_accum: k micro-batches of b give the weights of one batch of k·b, and the optimizer steps once per k."""
from __future__ import annotations

import copy

import pytest
import torch

from tests.test_trick_kit import Tiny, classification_data, fit, weights


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
        assert not torch.allclose(value, start[name], atol=1e-3), f"{name} barely moved; the test would prove nothing"
    if optimizer == "adam":
        state = soft_trainer.optimizers[0].state
        assert {int(state[p]["step"]) for p in soft.parameters()} == {updates}
