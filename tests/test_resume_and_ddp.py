"""Nothing lost: a killed training resumes from its last checkpoint; DDP runs through the same entry
point."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

from tests.conftest import command_env, edit_params, fast_params, run


def weights(project: Path) -> dict[str, torch.Tensor]:
    return torch.load(project / "models" / "model.pt", weights_only=True)["state_dict"]


def runs(project: Path):
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    return client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])


def kill_after_first_checkpoint(project: Path) -> None:
    process = subprocess.Popen(
        ["pipeline", "run", "train"],
        cwd=project,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not (project / "checkpoints" / "last.ckpt").exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    assert process.poll() is None, "training finished before it could be killed; raise max_epochs"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = torch.load(project / "checkpoints" / "last.ckpt", weights_only=True)["epoch"]
    assert killed_at < 11, "the kill came after training ended; nothing was resumed"


def test_killed_training_resumes_to_the_same_weights(project: Path):
    fast_params(project, epochs=12)
    run(["pipeline", "run", "prepare"], project)
    run(["pipeline", "run", "train"], project)
    uninterrupted = weights(project)
    for generated in ("checkpoints", "models", "plots", "metrics"):
        shutil.rmtree(project / generated, ignore_errors=True)
    (project / "mlflow.db").unlink()

    kill_after_first_checkpoint(project)
    state = json.loads((project / "checkpoints" / "state.json").read_text())
    assert not (project / "models" / "model.pt").exists()
    assert [r.info.status for r in runs(project)] == [
        "RUNNING"
    ]  # SIGKILL leaves no chance to close it

    resumed = run(["pipeline", "run", "train"], project)
    assert "Restoring states from the checkpoint path" in resumed.stderr + resumed.stdout
    after = weights(project)
    assert after.keys() == uninterrupted.keys()
    for name in after:
        assert torch.equal(after[name], uninterrupted[name]), name
    assert [(r.info.run_id, r.info.status) for r in runs(project)] == [
        (state["run_id"], "FINISHED")
    ]
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    for key in ("train_loss", "val_loss"):  # what the kill left unwritten is written, once
        steps = sorted(m.step for m in client.get_metric_history(state["run_id"], key))
        assert steps == list(range(12)), key
    history = (project / "plots" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == [str(e) for e in range(12)]


def test_corrupt_checkpoint_is_a_clear_error_and_new_settings_start_over(project: Path):
    fast_params(project, epochs=12)
    run(["pipeline", "run", "prepare"], project)
    kill_after_first_checkpoint(project)
    (project / "checkpoints" / "last.ckpt").write_bytes(b"\x00garbage")
    done = run(["pipeline", "run", "train"], project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: checkpoint ")
    assert (
        "last.ckpt is corrupt or unreadable" in done.stderr
        and "delete it to start training over" in done.stderr
    )
    assert [r.info.status for r in runs(project)] == [
        "KILLED"
    ]  # the run the kill interrupted is closed, not left RUNNING

    edit_params(project, trainer={"max_epochs": 2})
    done = run(["pipeline", "run", "train"], project)
    assert "Restoring states" not in done.stderr + done.stdout
    assert json.loads((project / "metrics" / "train.json").read_text())["epochs"] == 2
    assert sorted(r.info.status for r in runs(project)) == ["FINISHED", "KILLED"]


def test_ddp_on_cpu_through_the_stage_entry_point(project: Path):
    fast_params(
        project, epochs=2, data={"num_workers": 1}, trainer={"devices": 2, "strategy": "ddp"}
    )
    run(["pipeline", "run", "prepare"], project)
    done = run(["pipeline", "run", "train"], project)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr + done.stdout
    train = json.loads((project / "metrics" / "train.json").read_text())
    assert (
        train["optimizer_steps"] == 2 * 10
    )  # each of 2 processes takes ceil(629 / 64) batches per epoch
    assert [r.info.status for r in runs(project)] == ["FINISHED"]
    run(["pipeline", "run", "evaluate"], project)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.6
