"""lookahead: α = 1 is the base optimizer exactly; a cycle ends at θ₀ + α(θ_k − θ₀); slow weights
resume."""

from __future__ import annotations

import copy

import pytest
import torch

from tests.trick_kit import (
    StepRecorder,
    Tiny,
    assert_same_weights,
    classification_data,
    fit,
    fit_saving_epochs,
    weights,
)

DATA = classification_data(56)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_alpha_one_equals_the_base_optimizer_exactly(optimizer):
    torch.manual_seed(0)
    wrapped = Tiny()
    base = copy.deepcopy(wrapped)
    fit(
        wrapped, {"lookahead": {"k": 3, "alpha": 1.0}}, DATA, batch_size=8, optimizer=optimizer
    )  # 7 steps, 2 cycles
    fit(base, {}, DATA, batch_size=8, optimizer=optimizer)
    assert_same_weights(wrapped, base)


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_first_cycle_ends_at_the_interpolation_of_start_and_fast_weights(optimizer):
    k, alpha = 3, 0.25
    torch.manual_seed(0)
    wrapped = Tiny()
    base = copy.deepcopy(wrapped)
    start = weights(wrapped)
    trainer = fit(
        wrapped,
        {"lookahead": {"k": k, "alpha": alpha}},
        DATA,
        batch_size=8,
        optimizer=optimizer,
        max_steps=k,
    )
    fit(base, {}, DATA, batch_size=8, optimizer=optimizer, max_steps=k)
    fast = weights(base)  # θ_k: k steps of the base optimizer from θ₀ on the same batches

    slow = dict(
        zip([n for n, _ in wrapped.named_parameters()], trainer.optimizers[0].slow, strict=True)
    )
    for name, value in weights(wrapped).items():
        expected = start[name] + alpha * (fast[name] - start[name])
        torch.testing.assert_close(slow[name], expected, rtol=1e-6, atol=1e-7)
        assert torch.equal(value, slow[name])  # the fast weights restart from the slow ones
        assert not torch.allclose(value, fast[name], atol=1e-4)


def test_slow_weights_and_cycle_position_survive_checkpoint_resume(tmp_path):
    settings = {"lookahead": {"k": 3, "alpha": 0.5}}  # 7 steps an epoch: cycles straddle epoch ends
    torch.manual_seed(0)
    module = Tiny()
    fit_saving_epochs(
        module, settings, DATA, tmp_path, batch_size=8, optimizer="adam", max_epochs=3
    )
    saved = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)["optimizer_states"][0][
        "lookahead"
    ]
    assert saved["steps"] == 7 and len(saved["slow"]) == 4

    resumed, steps = Tiny(), StepRecorder()
    fit(
        resumed,
        settings,
        DATA,
        batch_size=8,
        optimizer="adam",
        after=[steps],
        max_epochs=3,
        ckpt_path=str(tmp_path / "epoch=0.ckpt"),
    )
    assert len(steps.steps) == 14
    assert_same_weights(resumed, module)
