"""What the end-to-end tests read back from a project they ran (no tests here): the stages `dvc
repro` ran, the MLflow runs, the trained weights and checkpoints; a command killed mid-run, and a
free port for a server on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable

import torch
from mlflow.tracking import MlflowClient

from tests.project_kit import command_env

STAGES = ("check", "prepare", "train", "evaluate", "export")  # dvc.yaml's, in order


def stages_ran(output: str) -> list[str]:
    """The stages `dvc repro` says it ran in ``output``, in dvc.yaml's order."""
    return [stage for stage in STAGES if f"Running stage '{stage}'" in output]


def mlflow_runs(root: Path) -> list:
    """The runs in the project's own MLflow store (``root/mlflow.db``), oldest first."""
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    return client.search_runs(
        [client.get_experiment_by_name("pipeline").experiment_id],
        order_by=["attributes.start_time ASC"],
    )


def model_weights(root: Path) -> dict[str, torch.Tensor]:
    """The state dict of the model the train stage wrote to ``root/models/model.pt``."""
    return torch.load(root / "models" / "model.pt", weights_only=True)["state_dict"]


def checkpoint_epoch(path: Path) -> int:
    """The epoch of a checkpoint, or -1 while it is missing or still being written."""
    try:
        return torch.load(path, weights_only=True)["epoch"]
    except Exception:  # a half-written file raises many types
        return -1


def checkpoint_reached(path: Path, epoch: int) -> Callable[[], bool]:
    """Whether the checkpoint at ``path`` holds ``epoch`` or a later one, asked when called (a
    ``ready`` for :func:`kill_when`)."""
    return lambda: checkpoint_epoch(path) >= epoch


def kill_when(
    args: list[str],
    root: Path,
    ready: Callable[[], bool],
    what: str,
    group: bool = False,
    **env: str,
) -> None:
    """Start ``args`` in ``root`` as a user would and SIGKILL it as soon as ``ready()`` holds (with
    its whole process group when ``group``: `dvc repro` runs each stage in a child); fail if
    ``what`` (the command, in words) ends first or is not ready within 300 s."""
    process = subprocess.Popen(
        args,
        cwd=root,
        env=command_env(**env),
        start_new_session=group,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not ready():
        assert process.poll() is None, f"{what} ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    assert process.poll() is None, f"{what} ended before it could be killed"
    if group:
        os.killpg(process.pid, signal.SIGKILL)
    else:
        process.send_signal(signal.SIGKILL)
    process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def kill_after_first_checkpoint(root: Path) -> None:
    """Kill `pipeline run train` in ``root`` once it has written ``checkpoints/last.ckpt``, before
    its 11th epoch ends (the tests that call it train for 12)."""
    last = root / "checkpoints" / "last.ckpt"
    kill_when(["pipeline", "run", "train"], root, last.exists, "training")
    killed_at = torch.load(last, weights_only=True)["epoch"]
    assert killed_at < 11, "the kill came after training ended; nothing was resumed"
