"""Resuming an interrupted training: a rerun with the same settings continues from ``last.ckpt``.

The checkpoint folder carries ``state.json`` with a fingerprint of every setting that shapes
training and the MLflow run it belongs to. A rerun with the same fingerprint resumes that run from
its last checkpoint; any other settings start over in an emptied folder (emptied only once the new
settings passed every check, so a refused run never costs an unfinished training). A training that
completes removes its checkpoints: its results are in ``models/`` and in DVC's cache.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError

TRAINING_SECTIONS = ("seed", "data", "model", "optimizer", "tricks", "trainer", "selection")
LAST = "last.ckpt"


def fingerprint(params: Mapping[str, Any]) -> str:
    """A stable hash of the settings that determine the trained weights."""
    shaping = {key: params.get(key) for key in TRAINING_SECTIONS}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]


@dataclass(frozen=True)
class ResumePoint:
    """Where training starts: a checkpoint to continue (or None) and the MLflow run to continue (or
    None)."""

    checkpoint: Path | None
    run_id: str | None


def find(folder: Path, params: Mapping[str, Any]) -> ResumePoint:
    """The resume point for ``params`` in ``folder``, emptying the folder if it belongs to other
    settings."""
    state_path = folder / "state.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if state.get("fingerprint") != fingerprint(params):
        shutil.rmtree(folder, ignore_errors=True)
        return ResumePoint(None, None)
    last = folder / LAST
    if last.is_file():
        check_readable(last)
        return ResumePoint(last, state.get("run_id"))
    return ResumePoint(None, state.get("run_id"))


def record(folder: Path, params: Mapping[str, Any], run_id: str | None) -> None:
    """Note which settings and MLflow run the checkpoints in ``folder`` belong to."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"fingerprint": fingerprint(params), "run_id": run_id}
    (folder / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def finish(folder: Path) -> None:
    """Drop the checkpoints of a training that completed: its results are in models/ (and DVC's
    cache)."""
    shutil.rmtree(folder, ignore_errors=True)


def check_readable(path: Path) -> None:
    """Raise a clear error unless ``path`` is a torch file (read with ``weights_only``) Lightning
    can resume from."""
    import torch

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for damaged files
        raise PipelineError(
            f"checkpoint {path} is corrupt or unreadable ({type(error).__name__}); delete it to "
            "start training over."
        ) from error
    # What Lightning reads to resume a fit; without it, it fails deep inside with a bare KeyError.
    needed = (
        "pytorch-lightning_version",
        "state_dict",
        "epoch",
        "global_step",
        "loops",
        "optimizer_states",
        "lr_schedulers",
    )
    if not isinstance(checkpoint, dict):
        problem = f"it holds a {type(checkpoint).__name__}, not a dict"
    elif missing := [key for key in needed if key not in checkpoint]:
        problem = f"it lacks {', '.join(missing)}"
    elif not isinstance(checkpoint["state_dict"], dict):
        problem = "its state_dict is not a dict"
    else:
        return
    raise PipelineError(
        f"checkpoint {path} is not a training checkpoint written by Lightning ({problem}); delete "
        "it to start training over."
    )
