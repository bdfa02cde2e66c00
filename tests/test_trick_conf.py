"""conf/trick/: one file per built-in trick holding its defaults, switched on by `dvc exp run -S
'trick=[...]'`."""

from __future__ import annotations

import re

import pytest
import yaml
from dvc.utils.hydra import compose_and_dump
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pipeline.params.validate import validate
from pipeline.plugin.schema import defaults_of
from tests.project_kit import CONF, REPO
from tests.trick_kit import REGISTRY


@pytest.mark.parametrize("path", sorted((CONF / "trick").glob("*.yaml")), ids=lambda p: p.stem)
def test_each_trick_file_holds_that_tricks_defaults(path):
    assert path.read_text().splitlines()[0] == f"# @package tricks.{path.stem}"
    assert yaml.safe_load(path.read_text()) == defaults_of(REGISTRY.trick(path.stem).settings)


def test_every_built_in_trick_has_a_file():
    built_in = {
        name
        for name, entry in REGISTRY.tricks.items()
        if entry.spec.load.__module__.startswith("plugins.tricks.")
    }
    assert built_in == {path.stem for path in (CONF / "trick").glob("*.yaml")}


def test_dvc_composes_tricks_and_overrides_into_valid_params(tmp_path):
    """What `dvc exp run -S 'trick=[ema,piecewise_lr,param_lr]' -S
    'tricks.piecewise_lr.points=[[1000,1],[2000,0.1]]' -S tricks.piecewise_lr.unit=steps …`
    writes."""
    out = tmp_path / "params.yaml"
    compose_and_dump(
        out,
        str(CONF),
        None,
        "config",
        str(tmp_path),
        [
            "trick=[ema,piecewise_lr,param_lr]",
            "tricks.piecewise_lr.points=[[1000,1],[2000,0.1]]",
            "tricks.piecewise_lr.unit=steps",
            "tricks.ema.decay=0.9",
            "tricks.param_lr.multipliers=[[net.0.*,0.5]]",
        ],
    )
    params = validate(yaml.safe_load(out.read_text()), REGISTRY)
    assert params["tricks"] == {
        "ema": {"decay": 0.9},
        "piecewise_lr": {"points": [[1000, 1], [2000, 0.1]], "unit": "steps"},
        "param_lr": {"multipliers": [["net.0.*", 0.5]]},
    }  # replaced, not merged


def documented_runs() -> list[list[str]]:
    """The overrides of every `dvc exp run -S …` line in docs/tricks.md that uses built-in
    tricks."""
    doc = (REPO / "docs" / "tricks.md").read_text()
    lines = [
        re.findall(r"-S '([^']+)'", line)
        for line in re.findall(r"dvc exp run ((?:-S '[^']+' ?)+)", doc)
    ]
    return [overrides for overrides in lines if "grad_noise" not in " ".join(overrides)]


def test_every_documented_dvc_line_composes_into_valid_params():
    runs = documented_runs()
    assert len(runs) >= 9
    with initialize_config_dir(
        config_dir=str(CONF), version_base=None
    ):  # what DVC's -S composes, minus the dump
        for overrides in runs:
            params = validate(
                OmegaConf.to_container(compose("config", overrides=overrides)), REGISTRY
            )
            assert set(params["tricks"]) == set(
                overrides[0].removeprefix("trick=[").removesuffix("]").split(",")
            ), overrides
