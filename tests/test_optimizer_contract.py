"""Every registered base optimizer, built-in or installed, meets one contract: a step on a known
quadratic lowers the loss, follows the update its spec writes out (``rule``), keeps its state
through a checkpoint, and trains a model through the train stage's wiring with every trick."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from pipeline import OptimizerSpec
from tests.optimizer_kit import (
    REGISTRY,
    THETA0,
    Point,
    gradient,
    loss,
    optimizer_for,
    settings_of,
    step,
    trajectory,
)
from tests.trick_kit import Tiny, classification_data, every_trick, fit, weights

pytestmark = pytest.mark.usefixtures("one_thread")
NAMES = list(REGISTRY.optimizers)


def test_the_builtins_are_plugins_in_their_table_order():
    assert NAMES[:5] == ["sgd", "momentum", "adam", "adamw", "rmsprop"]
    for name in NAMES[:5]:
        assert REGISTRY.optimizers[name].package.startswith("cooler-pipeline ")
        assert isinstance(REGISTRY.optimizer(name), OptimizerSpec)


@pytest.mark.parametrize("name", NAMES)
def test_one_step_lowers_a_known_quadratic(name):
    settings = settings_of(name)
    after = trajectory(settings, 1)[1]
    assert loss(after) < loss(THETA0)
    assert np.all(np.isfinite(after))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_steps_equal_the_update_rule_the_spec_writes_out(name, weight_decay):
    spec = REGISTRY.optimizer(name)
    if spec.rule is None:
        pytest.skip(f"optimizer {name} writes out no update rule")
    assert spec.rule.resolve().__doc__, "a rule states its formula in its docstring"
    settings = settings_of(name, lr=0.05, weight_decay=weight_decay)
    expected, state = [THETA0], {}
    for _ in range(12):
        theta = expected[-1]
        expected.append(spec.rule(theta, gradient(theta), state, settings))
    np.testing.assert_allclose(trajectory(settings, 12), np.stack(expected), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_state_survives_a_checkpoint_round_trip(name):
    settings = settings_of(name, lr=0.05)
    straight = trajectory(settings, 6)[-1]

    point = Point(THETA0)
    optimizer = optimizer_for(point, settings)
    for _ in range(3):
        step(point, optimizer)
    saved = io.BytesIO()
    torch.save({"point": point.state_dict(), "optimizer": optimizer.state_dict()}, saved)
    saved.seek(0)
    checkpoint = torch.load(saved, weights_only=True)
    resumed = Point(np.zeros(2))
    resumed.load_state_dict(checkpoint["point"])
    optimizer = optimizer_for(resumed, settings)
    optimizer.load_state_dict(checkpoint["optimizer"])
    for _ in range(3):
        last = step(resumed, optimizer)
    assert np.array_equal(last, straight)


@pytest.mark.parametrize("name", NAMES)
def test_trains_through_the_stage_wiring_with_every_trick(name):
    torch.manual_seed(0)
    module = Tiny()
    start = weights(module)
    # grad_accum (k=2) makes the 8 micro-batches four optimizer steps
    trainer = fit(module, every_trick(), classification_data(64), 8, optimizer=settings_of(name))
    assert trainer.global_step == 4
    after = weights(module)
    assert all(torch.isfinite(p).all() for p in after.values())
    assert any(not torch.equal(after[k], start[k]) for k in start)
