"""Every registered trick, built-in or installed from another package, meets one contract on the classifier:
its defaults validate, it loads, it trains without touching what it should not, and it resumes exactly."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import TensorDataset

from pipeline import Trick
from pipeline.config import validate_tricks
from pipeline.data import DataInfo
from pipeline.settings import defaults_of
from tests.test_trick_kit import REGISTRY, StepRecorder, assert_bitwise_equal, fit, weights


@pytest.fixture(scope="module")
def digits() -> tuple[DataInfo, np.ndarray, np.ndarray]:
    x, y = REGISTRY.dataset("digits").load({})
    return DataInfo((64,), 10, "digits"), x[:320], y[:320]


def classifier(info: DataInfo):
    torch.manual_seed(0)
    return REGISTRY.family("classifier").load().build({"family": "classifier", "hidden": 16}, info)


def states(callbacks, keys: set[str]) -> dict:
    return {cb.state_key: cb.state_dict() for cb in callbacks if cb.state_key in keys}


@pytest.mark.parametrize("name", sorted(REGISTRY.tricks))
def test_trick_meets_the_contract(name, digits, tmp_path):
    spec = REGISTRY.trick(name)
    settings = validate_tricks({name: {}}, REGISTRY)[name]
    assert settings == defaults_of(spec.settings)
    assert isinstance(spec.load(), Trick)
    pristine = copy.deepcopy(settings)

    info, x, y = digits
    x_before = x.copy()
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    module = classifier(info)
    start = {k: v.clone() for k, v in module.state_dict().items()}
    saver = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1, every_n_epochs=1)
    trainer = fit(module, {name: settings}, data, batch_size=32, optimizer="adam", after=[saver], max_epochs=2,
                  enable_checkpointing=True)

    after = module.state_dict()
    assert {k: (v.shape, v.dtype) for k, v in after.items()} == {k: (v.shape, v.dtype) for k, v in start.items()}
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(after[k], start[k]) for k in after), "training changed no weight"
    assert settings == pristine, "the trick changed its own settings"
    assert np.array_equal(x, x_before), "the trick changed the training data"

    checkpoint = torch.load(tmp_path / "epoch=0.ckpt", weights_only=True)  # the core resumes with weights_only
    fresh = spec.load().callbacks(settings)
    keys = {cb.state_key for cb in fresh}
    for callback in fresh:  # Lightning stores the state of callbacks whose state is not empty
        saved = checkpoint["callbacks"].get(callback.state_key, {})
        if saved:
            callback.load_state_dict(saved)
        assert callback.state_dict() == saved

    resumed_module, resumed = classifier(info), StepRecorder()
    resumed_trainer = fit(resumed_module, {name: settings}, data, batch_size=32, optimizer="adam", after=[resumed],
                          max_epochs=2, ckpt_path=str(tmp_path / "epoch=0.ckpt"))
    assert resumed_trainer.global_step == trainer.global_step
    assert_bitwise_equal(weights(resumed_module), weights(module))
    assert states(resumed_trainer.callbacks, keys) == states(trainer.callbacks, keys)
