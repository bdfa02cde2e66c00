"""One set of params through the train and evaluate stages ``dvc repro`` runs, in its own folder.

A sweep's trial and a comparison's run both call :func:`train_and_evaluate`. The folder keeps the
MLflow child run's id, so a rerun after a kill continues that run: training resumes from its
``checkpoints/last.ckpt``, and a training that finished before the kill is not repeated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.paths import Paths
from pipeline.plugin.registry import Registry
from pipeline.stages import run_stage
from pipeline.stages.context import RunContext
from pipeline.stages.outputs import read_run_id, write_json
from pipeline.sweep.metric_names import validation

RECORD = "trial.json"  # in the run's folder: the MLflow child run its retries continue


@dataclass(frozen=True)
class Outcome:
    """What one run measured, each metric on its split."""

    validation: dict[str, float]  # val_*: logged on the validation split at the end of training
    test: dict[str, float]  # the evaluate stage's metrics, on the test split


@dataclass
class ChildRun:
    """How the run is recorded: under which MLflow parent, with which tags and callbacks."""

    parent_run_id: str | None
    tags: dict[str, str]
    callbacks: list = field(default_factory=list)  # extra Lightning callbacks (pruning)
    on_run_id: Callable[[str], None] | None = None  # told the child run's id once it is known


def recorded_run(folder: Path) -> str | None:
    """The MLflow child run an earlier attempt in ``folder`` opened, if any."""
    record = folder / RECORD
    return read_run_id(record) if record.is_file() else None


def train_and_evaluate(
    params: Mapping[str, Any], registry: Registry, paths: Paths, child: ChildRun
) -> Outcome:
    """Train (unless an earlier attempt finished training in this run) and evaluate."""
    run_id = recorded_run(paths.root)
    if run_id and child.on_run_id:
        child.on_run_id(run_id)

    def created(new: str) -> None:
        write_json(paths.root / RECORD, {"run_id": new})
        if child.on_run_id:
            child.on_run_id(new)

    # A model no better than chance is an outcome here, not a result to refuse: it replaces no
    # model of the user's, and the sampler or the comparison needs its score.
    params = {**params, "checks": {**params["checks"], "chance_level": False}}
    ctx = RunContext(
        dict(params),
        registry,
        paths,
        extra_callbacks=list(child.callbacks),
        parent_run_id=child.parent_run_id,
        on_run_created=created,
        run_tags=dict(child.tags),
    )
    # An attempt killed during evaluation keeps its finished training.
    trained = paths.run_record.is_file() and read_run_id(paths.run_record) == run_id
    if run_id is None or not trained:
        train = dict(run_stage("train", ctx))
    else:
        train = json.loads((paths.metrics / "train.json").read_text())
    test = {name: float(value) for name, value in run_stage("evaluate", ctx).items()}
    return Outcome(validation(train), test)
