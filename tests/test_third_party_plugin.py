"""A pip-installed plugin package is picked up by its entry point and runs through `dvc repro` unchanged."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.conftest import REPO, edit_params, run

EXAMPLE = REPO / "tests" / "example_plugin"


def test_installed_plugin_runs_through_dvc_repro(project: Path, tmp_path: Path):
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(site), str(EXAMPLE)], tmp_path)
    env = {"PYTHONPATH": str(site)}

    listing = run(["pipeline", "plugins"], project, **env).stdout
    assert any(l.split()[:1] == ["logistic"] and "[pipeline-logistic 0.1.0]" in l for l in listing.splitlines())
    assert any(l.split()[:1] == ["blobs"] and "[pipeline-logistic 0.1.0]" in l for l in listing.splitlines())

    edit_params(project, data={"name": "blobs", "samples": 300}, model={"family": "logistic", "hidden": None},
                optimizer={"lr": 0.1}, trainer={"max_epochs": 10})
    run(["dvc", "repro"], project, **env)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.9
    export = json.loads((project / "metrics" / "export.json").read_text())
    assert max(export.values()) <= 1e-4
    assert (project / "exported" / "model.onnx").is_file()

    without = run(["pipeline", "run", "train"], project, check=False)
    assert without.returncode == 2 and "unknown dataset 'blobs'" in without.stderr
