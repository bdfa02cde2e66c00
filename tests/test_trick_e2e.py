"""Every trick at once through `dvc repro`: the classifier still learns digits, MLflow records the
tricks,
and a training killed mid-run resumes to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import torch
from mlflow.tracking import MlflowClient

from tests.conftest import command_env, edit_params, run

ALL_TRICKS = {
    "grad_accum": {"k": 2},
    "ema": {"decay": 0.9},
    "param_lr": {"multipliers": [["net.2.*", 0.5]]},
    "grad_transform": {"clip_norm": [["*", 1.0]], "clip_value": [["net.0.bias", 0.5]], "zero": []},
    "lookahead": {"k": 5, "alpha": 0.5},
    "weight_decay": {"rate": 0.01},
    "piecewise_lr": {"points": [[10, 1.0], [100, 0.2]], "unit": "steps"},
    "lazy_embedding": {"patterns": ["*"]},
    "orthogonal_reg": {"weight": 0.001, "patterns": ["net.0.weight"]},
}
EPOCHS = 12
THREADS = {
    "OMP_NUM_THREADS": "1"
}  # tiny models on a shared machine train faster without thread hand-offs


def weights(project: Path) -> dict[str, torch.Tensor]:
    return torch.load(project / "models" / "model.pt", weights_only=True)["state_dict"]


def checkpoint_epoch(path: Path) -> int:
    """The epoch of a checkpoint, or -1 while it is missing or still being written."""
    try:
        return torch.load(path, weights_only=True)["epoch"]
    except Exception:  # a half-written file raises many types
        return -1


def kill_after_epoch(project: Path, epoch: int) -> None:
    process = subprocess.Popen(
        ["pipeline", "run", "train"],
        cwd=project,
        env=command_env(**THREADS),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while checkpoint_epoch(project / "checkpoints" / "last.ckpt") < epoch:
        assert process.poll() is None, "training ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (project / "models" / "model.pt").exists(), "training finished before the kill"


def test_all_tricks_through_dvc_repro_then_kill_and_resume(project: Path):
    # A checkpoint every epoch, so the kill below finds one in the middle of training.
    trainer = {"max_epochs": EPOCHS, "checkpoint_seconds": 0}
    edit_params(project, tricks=ALL_TRICKS, optimizer={"lr": 0.01}, trainer=trainer)
    repro = run(["dvc", "repro"], project, **THREADS)
    assert "Running stage 'export'" in repro.stdout
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] >= 0.9
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    [logged] = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    in_order = "grad_accum,param_lr,weight_decay,orthogonal_reg,grad_transform,lookahead"
    in_order += ",lazy_embedding"
    assert logged.data.tags["pipeline.tricks"] == in_order + ",piecewise_lr,ema"
    assert logged.data.params["tricks.ema.decay"] == "0.9"
    uninterrupted = weights(project)
    (project / "models" / "model.pt").unlink()
    assert not (project / "checkpoints").exists()  # a completed training keeps no checkpoints

    kill_after_epoch(project, 1)
    assert 1 <= checkpoint_epoch(project / "checkpoints" / "last.ckpt") < EPOCHS - 1, (
        "the kill came after training"
    )
    resumed = run(["pipeline", "run", "train"], project, **THREADS)
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    after = weights(project)
    assert after.keys() == uninterrupted.keys()
    for name in after:
        assert torch.equal(after[name], uninterrupted[name]), name
