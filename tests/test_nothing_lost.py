"""`dvc repro` as a user types it: a mistyped, refused, diverged or killed run never passes, never
deletes the last good results, and never costs a retrain that DVC's cache or a checkpoint can
spare."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.e2e_kit import checkpoint_epoch, checkpoint_reached, kill_when, mlflow_runs, stages_ran
from tests.fault_kit import snapshot as hashed
from tests.project_kit import ONE_THREAD, edit_params, fast_params, run

RESULTS = (
    "models/model.pt",
    "models/run.json",
    "metrics/train.json",
    "metrics/evaluate.json",
    "metrics/export.json",
    "plots/history.csv",
    "plots/evaluate/confusion_matrix.png",
    "exported/model.onnx",
    "exported/model.tflite",
    "dvc.lock",
)


def snapshot(root: Path) -> dict[str, str]:
    """The content hash of every result a user keeps (a missing file maps to 'missing')."""
    return hashed(root, RESULTS)


def locked(root: Path) -> dict:
    return yaml.safe_load((root / "dvc.lock").read_text())["stages"]


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory, make_project) -> Path:
    """A project after a first, successful `dvc repro` (2 epochs), committed."""
    root = make_project(tmp_path_factory.mktemp("reproduced") / "project")
    fast_params(root, epochs=2)
    run(["dvc", "repro"], root, **ONE_THREAD)
    run(["git", "add", "-A"], root)
    run(["git", "commit", "-qm", "first results"], root)
    return root


@pytest.fixture
def workspace(reproduced: Path, tmp_path: Path) -> Path:
    """A private copy of the reproduced project (its DVC cache and MLflow store included)."""
    copy = tmp_path / "project"
    shutil.copytree(reproduced, copy, symlinks=True)
    return copy


def refused(root: Path, **env: str) -> subprocess.CompletedProcess:
    done = run(["dvc", "repro"], root, check=False, **ONE_THREAD, **env)
    assert done.returncode != 0, done.stdout
    return done


def error_lines(done: subprocess.CompletedProcess) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error: ")]


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"trainr": {"max_epochs": 3}},
            "error: trainr is not a known params section (did you mean 'trainer'?)",
        ),
        ({"trainer": {"devices": 0}}, "error: trainer.devices = 0 is invalid"),
        ({"trainer": {"precision": "banana"}}, "error: trainer.precision = 'banana' is invalid"),
        (
            {"optimizer": {"name": "sgd", "momentum": 0.9}},
            "error: optimizer.momentum is ignored by optimizer.name = 'sgd'",
        ),
        (  # a params file written before the key moved
            {"trainer": {"checkpoint_seconds": 0}},
            "error: trainer.checkpoint_seconds moved to checkpoint.seconds; move it there",
        ),
    ],
)
def test_a_mistake_is_refused_before_anything_is_removed(workspace: Path, change, message):
    before, runs_before = snapshot(workspace), len(mlflow_runs(workspace))
    edit_params(workspace, **change)
    done = refused(workspace)
    assert error_lines(done) == [error_lines(done)[0]] and error_lines(done)[0].startswith(message)
    assert "Traceback" not in done.stderr
    assert stages_ran(done.stdout) == ["check"]
    assert snapshot(workspace) == before
    assert len(mlflow_runs(workspace)) == runs_before  # no MLflow run was opened


def test_another_checkpoint_interval_reruns_nothing(workspace: Path):
    # How often last.ckpt is saved changes no result, so it is not a param of the train stage.
    before, runs_before = snapshot(workspace), len(mlflow_runs(workspace))
    edit_params(workspace, checkpoint={"seconds": 0})
    done = run(["dvc", "repro"], workspace, **ONE_THREAD)
    assert stages_ran(done.stdout) == ["check"]
    assert snapshot(workspace) == before
    assert len(mlflow_runs(workspace)) == runs_before


def test_unreachable_tracking_server_fails_in_seconds(workspace: Path):
    before = snapshot(workspace)
    edit_params(workspace, trainer={"max_epochs": 3})
    started = time.monotonic()
    done = refused(workspace, MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    # MLflow's own retries with back-off would take minutes; a busy machine still stays well below.
    assert time.monotonic() - started < 60
    assert error_lines(done) == [
        "error: MLFLOW_TRACKING_URI = http://127.0.0.1:9 is unreachable ([Errno 111] Connection "
        "refused); "
        "start the server, fix the URI, or unset MLFLOW_TRACKING_URI to record into ./mlflow.db."
    ]
    assert snapshot(workspace) == before


def test_diverged_training_fails_and_keeps_the_last_results(workspace: Path):
    before, runs_before = snapshot(workspace), len(mlflow_runs(workspace))
    # A new trick changes data/plugins.json too, which check writes: dvc.lock stays as it was.
    edit_params(workspace, optimizer={"lr": 1.0e30}, tricks={"ema": {}})
    # DVC runs each command in $SHELL: dash, unlike bash, stays between DVC and the stage.
    done = refused(workspace, SHELL="/bin/sh")
    assert stages_ran(done.stdout) == ["check", "train"]
    assert "diverged at epoch" in done.stderr and "Traceback" not in done.stderr
    assert "kept the last good results" in done.stderr
    assert snapshot(workspace) == before  # model, metrics, plots, export and dvc.lock as they were
    assert [r.info.status for r in mlflow_runs(workspace)][runs_before:] == ["FAILED"]
    status = json.loads(run(["dvc", "status", "--json"], workspace).stdout)
    assert "deleted" not in json.dumps(
        status.get("train", [])
    )  # DVC sees the last results in place


def test_a_chance_level_model_is_refused_and_keeps_the_last_results(workspace: Path):
    # Adam at lr 10 stays finite but learns nothing: it predicts one class.
    before, runs_before = snapshot(workspace), len(mlflow_runs(workspace))
    edit_params(workspace, optimizer={"lr": 10.0})
    done = refused(workspace)
    assert stages_ran(done.stdout) == ["check", "train"]
    [line] = error_lines(done)
    assert line.startswith(
        "error: the trained model scores no better than chance (validation accuracy 0."
    ), line
    assert "set checks.chance_level=false to keep it" in line and "Traceback" not in done.stderr
    assert snapshot(workspace) == before
    assert [r.info.status for r in mlflow_runs(workspace)][runs_before:] == ["FAILED"]

    # Turning the check off keeps that model, from its last checkpoint, without training again.
    edit_params(workspace, checks={"chance_level": False})
    done = run(["dvc", "repro"], workspace, **ONE_THREAD)
    assert stages_ran(done.stdout) == ["check", "train", "evaluate", "export"]
    assert "Restoring states from the checkpoint path" in done.stdout + done.stderr
    accuracy = json.loads((workspace / "metrics" / "evaluate.json").read_text())["accuracy"]
    assert accuracy < 0.2
    assert [r.info.status for r in mlflow_runs(workspace)][runs_before:] == ["FINISHED"]


def test_reverted_params_are_restored_from_the_run_cache(workspace: Path):
    first, runs_first, lock_first = (
        snapshot(workspace),
        len(mlflow_runs(workspace)),
        locked(workspace),
    )
    edit_params(workspace, trainer={"max_epochs": 3})
    run(["dvc", "repro", "evaluate"], workspace, **ONE_THREAD)
    assert json.loads((workspace / "metrics" / "train.json").read_text())["epochs"] == 3
    assert len(mlflow_runs(workspace)) == runs_first + 1

    run(["git", "checkout", "params.yaml"], workspace)
    done = run(["dvc", "repro", "evaluate"], workspace, **ONE_THREAD)
    assert "Stage 'train' is cached - skipping run" in done.stdout
    assert "Stage 'evaluate' is cached - skipping run" in done.stdout
    assert len(mlflow_runs(workspace)) == runs_first + 1  # nothing trained again
    now = snapshot(workspace)
    for name in (
        "models/model.pt",
        "models/run.json",
        "metrics/train.json",
        "metrics/evaluate.json",
    ):
        assert now[name] == first[name], name
    assert {stage: locked(workspace)[stage] for stage in ("train", "evaluate")} == {
        stage: lock_first[stage] for stage in ("train", "evaluate")
    }


def test_killed_export_leaves_the_last_export_whole(workspace: Path):
    before = snapshot(workspace)
    edit_params(workspace, export={"examples": 32})
    kill_when(
        ["dvc", "repro"],
        workspace,
        lambda: any((s / "model.onnx").is_file() for s in workspace.glob(".exported-new-*.tmp")),
        "the export",
        group=True,
        **ONE_THREAD,
    )
    after = snapshot(workspace)
    for name in ("exported/model.onnx", "exported/model.tflite"):
        assert after[name] == before[name], name
    assert (workspace / "exported" / "saved_model" / "saved_model.pb").is_file()

    run(["dvc", "repro"], workspace, **ONE_THREAD)
    assert (
        json.loads((workspace / "metrics" / "export.json").read_text())["onnx_max_abs_diff"] < 1e-4
    )
    assert not list(workspace.glob(".exported-*.tmp"))


def test_failed_export_keeps_the_last_export_and_its_metrics(workspace: Path):
    before = snapshot(workspace)
    edit_params(workspace, export={"tolerance": 1e-30})  # no export can pass this parity check
    # A full disk where a copy of exported/ would be staged: the intact export needs no copy.
    (workspace / ".exported-restore.tmp").symlink_to("/dev/full")
    done = refused(workspace)
    assert "could not restore" not in done.stderr
    assert [p.name for p in workspace.glob(".*restore.tmp")] == [".exported-restore.tmp"]
    assert (workspace / ".exported-restore.tmp").is_symlink()  # never needed, never touched
    assert stages_ran(done.stdout) == ["check", "export"]
    assert error_lines(done)[0].startswith("error: ONNX output differs from torch by ")
    assert "Traceback" not in done.stderr
    assert snapshot(workspace) == before  # metrics/export.json included: DVC no longer deletes it
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], workspace).stdout)
    assert "error" not in json.dumps(shown)
    assert shown[""]["data"]["metrics/export.json"]["data"] == json.loads(
        (workspace / "metrics" / "export.json").read_text()
    )


def test_refused_fix_keeps_the_checkpoint_and_the_rerun_resumes(workspace: Path):
    # A checkpoint every epoch, so the kill below finds one in the middle of training.
    edit_params(workspace, trainer={"max_epochs": 40}, checkpoint={"seconds": 0})
    last = workspace / "checkpoints" / "last.ckpt"
    at_epoch_1 = checkpoint_reached(last, 1)
    kill_when(
        ["dvc", "repro", "train"], workspace, at_epoch_1, "training", group=True, **ONE_THREAD
    )
    killed_at, killed_run = checkpoint_epoch(last), mlflow_runs(workspace)[-1].info.run_id
    assert 1 <= killed_at < 39, "the kill came after training ended"
    checkpoint = hashlib.md5(last.read_bytes()).hexdigest()

    edit_params(workspace, trainer={"devices": 0})  # a typo while fixing something else
    refused(workspace)
    assert hashlib.md5(last.read_bytes()).hexdigest() == checkpoint

    edit_params(workspace, trainer={"devices": 1})
    done = run(["dvc", "repro", "train"], workspace, **ONE_THREAD)
    assert "Restoring states from the checkpoint path" in done.stdout + done.stderr
    assert json.loads((workspace / "models" / "run.json").read_text())["run_id"] == killed_run
    assert [r.info.status for r in mlflow_runs(workspace)] == ["FINISHED", "FINISHED"]
    history = (workspace / "plots" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == [str(e) for e in range(40)]


def test_a_run_whose_process_died_is_closed_by_the_next_command(workspace: Path):
    client = MlflowClient(f"sqlite:///{workspace / 'mlflow.db'}")
    [first] = mlflow_runs(workspace)
    kill_when(
        ["pipeline", "run", "evaluate"],
        workspace,
        lambda: client.get_run(first.info.run_id).info.status == "RUNNING",
        "evaluate",
        **ONE_THREAD,
    )
    assert (
        client.get_run(first.info.run_id).info.status == "RUNNING"
    )  # a kill -9 leaves no chance to close it

    edit_params(workspace, trainer={"max_epochs": 3})
    run(["dvc", "repro", "train"], workspace, **ONE_THREAD)
    assert [r.info.status for r in mlflow_runs(workspace)] == ["KILLED", "FINISHED"]
