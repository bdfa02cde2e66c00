"""conf/ (Hydra groups DVC composes on `dvc exp run -S`) and the committed params.yaml stay in
step."""

from __future__ import annotations

import pytest
import yaml

from pipeline.params.validate import validate
from pipeline.plugin.registry import Registry, create_plugin_manager
from tests.project_kit import CONF, REPO, composed


def test_params_yaml_is_the_default_composition():
    assert yaml.safe_load((REPO / "params.yaml").read_text()) == composed()


def test_params_name_family_and_trainer_where_documented():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["model"]["family"] == "classifier"
    assert {
        "accelerator",
        "devices",
        "strategy",
        "num_nodes",
        "precision",
        "max_epochs",
        "deterministic",
    } <= set(params["trainer"])


@pytest.mark.parametrize(
    # conf/sweep and conf/compare hold sweep spaces and comparison specs, not Hydra groups.
    "group",
    sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in ("sweep", "compare")),
)
def test_every_option_of_every_group_composes_to_valid_params(group):
    registry = Registry(create_plugin_manager())
    options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    for option in options:
        overrides = [f"{group}=[{option}]" if group == "trick" else f"{group}={option}"]
        if group == "data":  # with the first family that trains on data of this kind
            kind = registry.datasets[option].spec.kind
            fits = sorted(n for n, e in registry.families.items() if kind in e.spec.reads)
            overrides.insert(0, f"model={fits[0]}")
        validate(composed(*overrides), registry)
