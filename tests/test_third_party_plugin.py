"""A pip-installed plugin package is picked up by its entry point and runs through `dvc repro`
unchanged;
one that fails to load is listed, warned about, and blocks nothing else."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.project_kit import REPO, edit_params, run

EXAMPLE = REPO / "examples" / "logistic_plugin"


def install_into(site: Path, package: Path, cwd: Path) -> None:
    """pip-install ``package`` into the folder ``site`` (put on PYTHONPATH by the test)."""
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    run([*pip, "--target", str(site), str(package)], cwd)


def test_installed_plugin_runs_through_dvc_repro(project: Path, tmp_path: Path):
    site = tmp_path / "site"
    install_into(site, EXAMPLE, tmp_path)
    env = {"PYTHONPATH": str(site)}

    listing = run(["pipeline", "plugins"], project, **env).stdout
    assert any(
        line.split()[:1] == ["logistic"] and "[pipeline-logistic 0.1.0]" in line
        for line in listing.splitlines()
    )
    assert any(
        line.split()[:1] == ["blobs"] and "[pipeline-logistic 0.1.0]" in line
        for line in listing.splitlines()
    )

    edit_params(
        project,
        data={"name": "blobs", "samples": 300},
        model={"family": "logistic", "hidden": None, "loss": None},
        optimizer={"lr": 0.1},
        trainer={"max_epochs": 10},
    )
    run(["dvc", "repro"], project, **env)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.9
    export = json.loads((project / "metrics" / "export.json").read_text())
    assert max(export.values()) <= 1e-4
    assert (project / "exported" / "model.onnx").is_file()

    # The documented example passes the contract every registered family meets.
    contract = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "logistic"]
    contract_files = ("test_families_contract.py", "test_scoring_without_lightning.py")
    checked = run([*contract, *(str(REPO / "tests" / f) for f in contract_files)], REPO, **env)
    assert " passed" in checked.stdout and "failed" not in checked.stdout, checked.stdout

    without = run(["pipeline", "run", "train"], project, check=False)
    assert without.returncode == 2 and "unknown dataset 'blobs'" in without.stderr


BROKEN = REPO / "tests" / "broken_plugin"
SPIRAL = (
    "pipeline-broken 0.1.0 (entry point spiral = pipeline_broken.spiral: "
    "ModuleNotFoundError: No module named 'pipeline_spiral_generator')"
)
REMEDY = "reinstall pipeline-broken, or remove it with `pip uninstall pipeline-broken`"


@pytest.fixture(scope="module")
def broken_env(tmp_path_factory) -> dict[str, str]:
    """A user's environment holding pipeline-broken: its entry point ``ring`` loads, ``spiral``
    fails to import.

    It is installed into a folder of its own on PYTHONPATH rather than into the venv, so tests
    running
    at the same time never see it and nothing needs uninstalling.
    """
    site = tmp_path_factory.mktemp("broken") / "site"
    install_into(site, BROKEN, site.parent)
    return {"PYTHONPATH": str(site)}


def test_plugins_command_lists_working_and_broken_plugins(tmp_path: Path, broken_env):
    done = run(["pipeline", "plugins"], tmp_path, check=False, **broken_env)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(line.split()[:1] == ["classifier"] for line in lines)
    assert any(
        line.split()[:1] == ["ring"] and line.endswith("[pipeline-broken 0.1.0]") for line in lines
    )
    assert lines[lines.index("broken plugins:") :] == [
        "broken plugins:",
        "  pipeline-broken 0.1.0, entry point spiral = pipeline_broken.spiral",
        "    ModuleNotFoundError: No module named 'pipeline_spiral_generator'",
        f"    to fix: {REMEDY}",
    ]
    assert done.stderr.splitlines() == [
        'error: 1 installed plugin(s) failed to load (pipeline-broken); see "broken plugins:" '
        "above."
    ]


def test_a_run_that_does_not_need_the_broken_plugin_warns_once(project: Path, broken_env):
    edit_params(project, data={"name": "ring"})
    done = run(["pipeline", "run", "prepare"], project, **broken_env)
    warnings = [line for line in done.stderr.splitlines() if "pipeline-broken" in line]
    assert warnings == [
        f"warning: skipping broken plugin {SPIRAL}; `pipeline plugins` says how to fix it."
    ]
    assert (
        json.loads((project / "data" / "prepared" / "sizes.json").read_text())["test_examples"]
        == 40
    )


def test_a_name_the_broken_plugin_may_provide_names_it(project: Path, broken_env):
    edit_params(project, data={"name": "spiral"})
    done = run(["pipeline", "run", "prepare"], project, check=False, **broken_env)
    assert done.returncode == 2
    error = done.stderr.strip().splitlines()[-1]
    prefix = "error: data.name: unknown dataset 'spiral'; known: "
    assert error.startswith(prefix)
    known = error[len(prefix) :].split(".", 1)[0].split(", ")
    assert "ring" in known and "digits" in known and known == sorted(known), known
    assert error.endswith(f". It may come from the broken plugin {SPIRAL}; {REMEDY}.")


def test_strict_plugins_turn_a_broken_plugin_into_an_error(project: Path, broken_env):
    done = run(
        ["pipeline", "run", "prepare"],
        project,
        check=False,
        PIPELINE_STRICT_PLUGINS="1",
        **broken_env,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: plugin {SPIRAL} failed to load and PIPELINE_STRICT_PLUGINS is set; {REMEDY}, "
        "or unset PIPELINE_STRICT_PLUGINS to run without it."
    ]
    assert not (project / "data" / "prepared").exists()
