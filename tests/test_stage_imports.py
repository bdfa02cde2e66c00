"""Each command imports only what it uses, and a stage's process skips the collector's walk over
its heap at exit without losing what the stage wrote.

What no stage should pay for is what it does not use: the listing commands and the check stage
load no numerical library, prepare none of torch, Lightning or MLflow, evaluate and export (which
rebuild the trained module on a plain torch base, :mod:`pipeline.training.module_base`) no
Lightning, and
only export loads TensorFlow. MLflow brings pandas wherever a run is logged.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.project_kit import fast_params, run

# Run as the console script would be (-P: the copy's own folder is not put on sys.path); an exit
# handler registered before main's runs after it, when the process has imported all it will.
PROBE = """
import atexit, gc, json, sys
from pipeline.cli import main

def record(path=sys.argv[1]):
    with open(path, "w") as file:
        json.dump({"modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}, file)

atexit.register(record)
sys.exit(main(sys.argv[2:]))
"""
NUMERICAL = ("numpy", "scipy", "sympy", "pandas", "sklearn", "matplotlib")
DEEP = ("torch", "lightning", "mlflow")
EXPORT_ONLY = ("tensorflow", "keras", "onnx", "onnxruntime")
COMMANDS = {  # what each command must not import
    "--help": NUMERICAL + DEEP + EXPORT_ONLY + ("yaml",),  # lists stages, reads no params
    "plugins": NUMERICAL + DEEP + EXPORT_ONLY,
    "run check": NUMERICAL + DEEP + EXPORT_ONLY,  # validates params.yaml first
    "run prepare": ("sympy", "matplotlib") + DEEP + EXPORT_ONLY,
    "run train": EXPORT_ONLY,
    "run evaluate": ("lightning", "torchmetrics") + EXPORT_ONLY,
    "run export": ("lightning", "torchmetrics"),
}


@pytest.fixture(scope="module")
def project(tmp_path_factory, make_project) -> Path:
    """A project copy that trains for one epoch."""
    root = make_project(tmp_path_factory.mktemp("imports") / "project")
    fast_params(root, epochs=1)
    return root


@pytest.fixture(scope="module")
def imported(project: Path) -> dict[str, dict]:
    """For each command, run in order on the project: the modules it imported and the number of
    objects frozen at its exit."""
    found = {}
    for command in COMMANDS:
        record = project.parent / f"{command.replace(' ', '_')}.json"
        run([sys.executable, "-P", "-c", PROBE, str(record), *command.split()], project)
        found[command] = json.loads(record.read_text())
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_command_imports_nothing_it_does_not_use(imported, command):
    loaded = {name.partition(".")[0] for name in imported[command]["modules"]}
    assert sorted(loaded.intersection(COMMANDS[command])) == []


def test_stages_that_need_them_load_their_libraries(imported):
    """The lists above would pass vacuously if the probe saw no imports at all."""
    assert "sklearn" in imported["run prepare"]["modules"]
    assert {"lightning", "mlflow"} <= set(imported["run train"]["modules"])
    assert {"torch", "mlflow"} <= set(imported["run evaluate"]["modules"])
    assert {"torch", "mlflow", "tensorflow", "onnx"} <= set(imported["run export"]["modules"])


@pytest.mark.parametrize("stage", ["run check", "run prepare", "run train", "run evaluate"])
def test_stage_exit_skips_the_collection(imported, stage):
    assert imported[stage]["frozen"] > 0


def test_frozen_exit_keeps_the_run_and_the_metrics(imported, project: Path):
    root = project
    run_id = json.loads((root / "models/run.json").read_text())["run_id"]
    found = MlflowClient(f"sqlite:///{root / 'mlflow.db'}").get_run(run_id)
    metrics = json.loads((root / "metrics/evaluate.json").read_text())
    assert found.info.status == "FINISHED"
    assert {f"test.{k}": v for k, v in metrics.items()}.items() <= found.data.metrics.items()
    assert (root / "models/model.pt").stat().st_size > 0


def test_preparing_streamed_data_loads_no_torch(project: Path, make_project):
    streamed = make_project(project.parent / "streamed")
    fast_params(streamed, epochs=1, data={"name": "gaussian_blobs", "examples": 500})
    record = streamed.parent / "streamed_prepare.json"
    run([sys.executable, "-P", "-c", PROBE, str(record), "run", "prepare"], streamed)
    loaded = {name.partition(".")[0] for name in json.loads(record.read_text())["modules"]}
    assert sorted(loaded.intersection(COMMANDS["run prepare"])) == []
    assert (streamed / "data" / "prepared" / "shards.json").is_file()
