"""weight_decay: with zero gradients θ_T = (1 − lr·wd)^T θ₀ and excluded parameters stay put; on
Adam it is AdamW."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.trick_kit import (
    OPTIMIZERS,
    Tiny,
    assert_same_weights,
    classification_data,
    fit,
    weights,
)

RATE, STEPS = 0.5, 8


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_zero_gradient_decays_geometrically_and_spares_exclusions(optimizer):
    torch.manual_seed(0)
    module = Tiny(zero_loss=True)
    start = weights(module)
    settings = {
        "weight_decay": {"rate": RATE, "exclude": ["net.2.weight"]}
    }  # 1-D biases are excluded by default
    fit(module, settings, classification_data(8 * STEPS), batch_size=8, optimizer=optimizer)

    factor = 1 - OPTIMIZERS[optimizer]["lr"] * RATE
    after = weights(module)
    torch.testing.assert_close(
        after["net.0.weight"], start["net.0.weight"] * factor**STEPS, rtol=1e-6, atol=0
    )
    assert not torch.allclose(after["net.0.weight"], start["net.0.weight"], rtol=1e-2)
    for name in ("net.0.bias", "net.2.weight", "net.2.bias"):
        assert torch.equal(after[name], start[name]), name


def test_on_adam_it_is_adamw_exactly():
    torch.manual_seed(0)
    wrapped = Tiny()
    reference = copy.deepcopy(wrapped)
    data = classification_data(48)
    fit(
        wrapped,
        {"weight_decay": {"rate": 0.1, "exclude_1d": False}},
        data,
        batch_size=8,
        optimizer="adam",
    )
    fit(
        reference,
        {},
        data,
        batch_size=8,
        optimizer={"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
    )
    assert_same_weights(wrapped, reference)
