"""Every registered trick, built-in or installed from another package, meets one contract on the
classifier:
its defaults validate, it loads, it trains without touching what it should not, and it resumes
exactly."""

from __future__ import annotations

import copy
import importlib
import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from pipeline import Trick
from pipeline.data.types import DataInfo
from pipeline.params.validate import validate_tricks
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.plugin.schema import defaults_of
from tests.project_kit import REPO
from tests.trick_kit import REGISTRY, assert_same_weights, fit, fit_saving_epochs


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
    meets_contract(REGISTRY, name, digits, tmp_path)


def test_the_documented_example_plugin_meets_the_contract(digits, tmp_path, monkeypatch):
    """The third-party trick package in docs/tricks.md, extracted as written, registers and passes
    the contract."""
    doc = (REPO / "docs" / "tricks.md").read_text()
    files = dict(
        re.findall(r"`(pipeline_grad_noise/[\w/]+\.py)`:\n\n```python\n(.*?)```", doc, re.S)
    )
    assert set(files) == {"pipeline_grad_noise/__init__.py", "pipeline_grad_noise/impl.py"}
    project = tomllib.loads(
        re.search(r"`pyproject.toml`:\n\n```toml\n(.*?)```", doc, re.S).group(1)
    )
    assert project["project"]["entry-points"]["pipeline.plugins"] == {
        "grad_noise": "pipeline_grad_noise"
    }
    for path, code in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    for module in ("pipeline_grad_noise", "pipeline_grad_noise.impl"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    registry = Registry(create_plugin_manager([importlib.import_module("pipeline_grad_noise")]))
    meets_contract(registry, "grad_noise", digits, tmp_path / "run")


def meets_contract(registry: Registry, name: str, digits, tmp_path: Path) -> None:
    """Defaults validate, it loads, two epochs on the classifier touch nothing they should not, and
    a run
    resumed from the first epoch's checkpoint ends bit for bit where the straight run did."""
    spec = registry.trick(name)
    settings = validate_tricks({name: {}}, registry)[name]
    assert settings == defaults_of(spec.settings)
    assert isinstance(spec.load(), Trick)
    pristine = copy.deepcopy(settings)

    info, x, y = digits
    x_before = x.copy()
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    module = classifier(info)
    start = {k: v.clone() for k, v in module.state_dict().items()}
    trainer = fit_saving_epochs(
        module,
        {name: settings},
        data,
        tmp_path,
        batch_size=32,
        optimizer="adam",
        max_epochs=2,
        registry=registry,
    )

    after = module.state_dict()
    assert {k: (v.shape, v.dtype) for k, v in after.items()} == {
        k: (v.shape, v.dtype) for k, v in start.items()
    }
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(after[k], start[k]) for k in after), "training changed no weight"
    assert settings == pristine, "the trick changed its own settings"
    assert np.array_equal(x, x_before), "the trick changed the training data"

    checkpoint = torch.load(
        tmp_path / "epoch=0.ckpt", weights_only=True
    )  # the core resumes with weights_only
    fresh = spec.load().callbacks(settings)
    keys = {cb.state_key for cb in fresh}
    for callback in fresh:  # Lightning stores the state of callbacks whose state is not empty
        saved = checkpoint["callbacks"].get(callback.state_key, {})
        if saved:
            callback.load_state_dict(saved)
        assert callback.state_dict() == saved

    resumed_module = classifier(info)
    resumed_trainer = fit(
        resumed_module,
        {name: settings},
        data,
        batch_size=32,
        optimizer="adam",
        max_epochs=2,
        ckpt_path=str(tmp_path / "epoch=0.ckpt"),
        registry=registry,
    )
    assert resumed_trainer.global_step == trainer.global_step
    assert_same_weights(resumed_module, module)
    assert states(resumed_trainer.callbacks, keys) == states(trainer.callbacks, keys)
