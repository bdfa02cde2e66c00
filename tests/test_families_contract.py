"""Every registered model family, built-in or installed, meets one contract on the digits: it
builds, trains a
step through Lightning with the core's optimizer and every trick, evaluates to metrics and pictures,
and
hands the export stage a plain Sequential that runs on its example inputs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline import Family
from tests.family_kit import REGISTRY, build, fit, prepared

pytestmark = pytest.mark.usefixtures("one_thread")

STANDARD_LAYERS = (
    nn.Linear,
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Softmax,
    nn.Flatten,
    nn.BatchNorm1d,
    nn.Identity,
    nn.Dropout,
)
# Every trick at its defaults, all at once (lazy_embedding on every parameter keeps rows without
# gradient).
ALL_TRICKS = {name: {} for name in REGISTRY.tricks}


@pytest.mark.parametrize("name", sorted(REGISTRY.families))
def test_family_meets_the_contract(name, tmp_path):
    data = prepared()
    family, module = build(name, data)
    assert isinstance(family, Family)
    start = {k: v.detach().clone() for k, v in module.named_parameters()}

    # grad_accum (k=2 by default) makes the 8 micro-batches of one epoch four optimizer steps.
    trainer = fit(
        module,
        data,
        tricks=ALL_TRICKS,
        batch_size=16,
        max_epochs=1,
        limit_train_batches=8,
        limit_val_batches=1,
    )
    assert trainer.global_step == 4
    logged = trainer.callback_metrics
    assert {"train_loss", "val_loss"} <= set(logged), sorted(logged)
    assert all(math.isfinite(float(v)) for v in logged.values())
    after = dict(module.named_parameters())
    assert all(torch.isfinite(p).all() for p in after.values())
    assert any(not torch.equal(after[k], start[k]) for k in start), "training changed no weight"

    module.eval()
    metrics = family.evaluate(module, data, tmp_path)
    assert metrics and all(isinstance(v, float) and math.isfinite(v) for v in metrics.values()), (
        metrics
    )
    assert list(tmp_path.glob("*.png")), "evaluate drew no picture"

    network, examples = family.export_target(module, data)
    assert isinstance(network, nn.Sequential)
    leaves = [m for m in network.modules() if not isinstance(m, nn.Sequential)]
    assert leaves and all(isinstance(m, STANDARD_LAYERS) for m in leaves), leaves
    with torch.no_grad():
        out = network(examples)
    assert out.shape[0] == examples.shape[0] > 0
    assert torch.isfinite(out).all()
