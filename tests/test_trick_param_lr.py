"""param_lr: after one step, each group's update is exactly its multiplier times the reference
update."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pipeline.training.module import ModelModule
from tests.trick_kit import classification_data, fit, weights

# Powers of two scale floating-point numbers exactly, so "exactly" means bit for bit.
MULTIPLIERS = [
    ["left.weight", 0.5],
    ["left.*", 4.0],
    ["right.weight", 0.0],
]  # first match wins: left.bias × 4


class TwoBranches(ModelModule):
    """logits = left(x) + right(x), every weight zero at the start: an update then equals the new
    value
    exactly (no rounding against an old value), and every gradient is non-zero."""

    def __init__(self):
        super().__init__()
        self.left, self.right = nn.Linear(6, 3), nn.Linear(6, 3)
        for p in self.parameters():
            nn.init.zeros_(p)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.left(x) + self.right(x), y)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_one_step_scales_each_group_update_exactly(optimizer):
    data = classification_data(16)
    scaled, reference = TwoBranches(), TwoBranches()
    fit(
        scaled,
        {"param_lr": {"multipliers": MULTIPLIERS}},
        data,
        batch_size=16,
        optimizer=optimizer,
        max_steps=1,
    )
    fit(reference, {}, data, batch_size=16, optimizer=optimizer, max_steps=1)

    updated, expected = (
        weights(scaled),
        weights(reference),
    )  # updates, since every weight started at zero
    multipliers = {"left.weight": 0.5, "left.bias": 4.0, "right.weight": 0.0, "right.bias": 1.0}
    for name, update in updated.items():
        multiplier = multipliers[name]
        assert (expected[name] != 0).all(), (
            f"{name}: the reference update has zeros; the test would prove less"
        )
        assert torch.equal(update, multiplier * expected[name]), name


def test_frozen_parameters_stay_put_over_many_steps():
    torch.manual_seed(0)
    module = TwoBranches()
    nn.init.normal_(module.right.weight)
    start = weights(module)
    fit(
        module,
        {"param_lr": {"multipliers": [["right.*", 0]]}},
        classification_data(64),
        batch_size=8,
        optimizer="adam",
    )
    after = weights(module)
    assert torch.equal(after["right.weight"], start["right.weight"]) and torch.equal(
        after["right.bias"], start["right.bias"]
    )
    assert not torch.equal(after["left.weight"], start["left.weight"])
