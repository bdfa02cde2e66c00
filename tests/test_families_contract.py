"""Every registered model family, built-in or installed, meets one contract on data of the kind it
reads (digits, generated class-conditional strings, or docstring article/title pairs): it builds,
trains a step through Lightning with the core's optimizer and every trick, evaluates to metrics and
pictures, and hands the export stage networks that run on their example inputs (a plain Sequential
where it exports to Keras through the generic converter)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pipeline import Family
from pipeline.export.exporter import parts_of
from tests.data_kit import contract_data
from tests.family_kit import REGISTRY, build, fit

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
# Where a trick's defaults name parts a family does not have: the settings that fit it instead, or
# None to leave the trick out (the family's check refuses it with a clear error).
FITTED_TRICKS = {
    # Three embedding tables: no bias for param_lr's default '*.bias', no Linear kernel.
    "jose": {"param_lr": {"multipliers": [["documents", 2.0]]}, "orthogonal_reg": None},
    # One bias-free Linear: the fly's synapses.
    "bioword": {"param_lr": {"multipliers": [["fly.synapses.weight", 2.0]]}},
}


def tricks_for(name: str) -> dict:
    """Every trick at its defaults, or at the settings that fit family ``name``."""
    fitted = {**ALL_TRICKS, **FITTED_TRICKS.get(name, {})}
    return {trick: settings for trick, settings in fitted.items() if settings is not None}


@pytest.mark.parametrize("name", sorted(REGISTRY.families))
def test_family_meets_the_contract(name, tmp_path):
    data = contract_data(name)
    family, module = build(name, data)
    assert isinstance(family, Family)
    # Sweeps and comparisons learn the metric names from an untrained model's evaluate.
    (tmp_path / "untrained").mkdir()
    names_before_training = set(family.evaluate(module.eval(), data, tmp_path / "untrained"))
    start = {k: v.detach().clone() for k, v in module.named_parameters()}

    # grad_accum (k=2 by default) makes the 8 micro-batches of one epoch four optimizer steps.
    trainer = fit(
        module,
        data,
        tricks=tricks_for(name),
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
    assert set(metrics) == names_before_training

    for part in parts_of(family.export_target(module, data), 8):
        if "SavedModel" in family.export_formats and family.keras_model(part.network) is None:
            assert isinstance(part.network, nn.Sequential)
            leaves = [m for m in part.network.modules() if not isinstance(m, nn.Sequential)]
            assert leaves and all(isinstance(m, STANDARD_LAYERS) for m in leaves), leaves
        with torch.no_grad():
            out = part.network(*part.inputs)
        outputs = out if isinstance(out, tuple) else (out,)
        assert all(o.shape[0] == part.inputs[0].shape[0] > 0 for o in outputs)
        assert all(torch.isfinite(o).all() for o in outputs)
