"""A base optimizer from a pip-installed package (Lion, ``examples/lion_plugin``) is picked up by
its entry point, listed, validated with its own settings, meets the optimizer contract and trains
through `dvc repro` with every trick."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.project_kit import REPO, edit_params, run
from tests.test_third_party_plugin import install_into

LION = REPO / "examples" / "lion_plugin"


@pytest.fixture(scope="module")
def lion_env(tmp_path_factory) -> dict[str, str]:
    """The environment of a user who pip-installed pipeline-lion (into a folder on PYTHONPATH, so
    tests running at the same time never see it)."""
    site = tmp_path_factory.mktemp("lion") / "site"
    install_into(site, LION, site.parent)
    return {"PYTHONPATH": str(site)}


def test_installed_optimizer_is_listed_and_validated(lion_env, tmp_path):
    listing = run(["pipeline", "plugins"], tmp_path, **lion_env).stdout
    section = listing[listing.index("optimizers") :].splitlines()
    assert any(line.split()[:1] == ["lion"] for line in section), listing

    code = (
        "from pipeline.params.validate import validate_optimizer; "
        "from pipeline.plugin.registry import Registry, create_plugin_manager; "
        "r = Registry(create_plugin_manager()); print(r.optimizers['lion'].package); "
        "print(validate_optimizer({'name': 'lion'}, r)); "
        "validate_optimizer({'name': 'sgd', 'beta1': 0.5}, r)"
    )
    done = run([sys.executable, "-c", code], tmp_path, check=False, **lion_env)
    lines = done.stdout.splitlines()
    assert lines[0] == "pipeline-lion 0.1.0"
    assert eval(lines[1]) == {  # the plugin's own lr default replaces the core's
        "name": "lion",
        "lr": 0.0001,
        "batch_size": 64,
        "weight_decay": 0.0,
        "beta1": 0.9,
        "beta2": 0.99,
    }
    assert (
        "optimizer.beta1 is ignored by optimizer.name = 'sgd'; remove it, or choose an "
        "optimizer that uses it: lion." in done.stderr
    )


def test_installed_optimizer_meets_the_contract(lion_env):
    contract = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "lion"]
    checked = run([*contract, str(REPO / "tests" / "test_optimizer_contract.py")], REPO, **lion_env)
    assert "5 passed" in checked.stdout and "failed" not in checked.stdout, checked.stdout


def test_installed_optimizer_trains_through_dvc_repro_with_every_trick(
    lion_env, project: Path, registry
):
    edit_params(
        project,
        optimizer={"name": "lion", "lr": 0.003},
        tricks={name: {} for name in registry.tricks},
        trainer={"max_epochs": 10},
    )
    run(["dvc", "repro"], project, **lion_env)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.9
    without = run(["pipeline", "run", "train"], project, check=False)
    assert without.returncode == 2 and "optimizer.name = 'lion' is invalid" in without.stderr
