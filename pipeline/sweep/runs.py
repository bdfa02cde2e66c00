"""MLflow for a sweep: one parent run per study, one child run per trial (the train stage opens the child)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

PARENT_ATTR = "mlflow.parent_run_id"  # study user attr: a resumed sweep goes on filling the same parent


def parent_run(tracker, study, space, experiment: str, storage: str) -> str:
    """The study's parent run, reopened if it exists in this MLflow store, else created."""
    existing = study.user_attrs.get(PARENT_ATTR)
    if existing and _exists(tracker, existing):
        tracker.client.update_run(existing, status="RUNNING")
        return existing
    described = {
        "sweep": {"study": study.study_name, "space": space.source, "objective": f"{space.direction} {space.metric}",
                  "pruner": space.pruner, "monitor": space.monitor or "none", "sampler": space.sampler, "storage": storage},
        "space": {param.key: param.describe() for param in space.params},
        "fixed": dict(space.fixed),
    }
    run_id = tracker.create_run(experiment, described, run_name=f"sweep {study.study_name}",
                                tags={"optuna.study": study.study_name, "pipeline.sweep": "parent"})
    study.set_user_attr(PARENT_ATTR, run_id)
    winner = study.user_attrs.get(PARENT_ATTR)
    if winner != run_id:  # another machine started the same study at the same moment; join its run
        tracker.client.delete_run(run_id)
    return winner


def child_tags(study: str, folder: int, trial_number: int) -> dict[str, str]:
    """The tags marking a child run as a trial of ``study``, given when the run is created (so never missing)."""
    return {"optuna.study": study, "optuna.trial": str(folder), "optuna.trial_number": str(trial_number),
            "optuna.state": "RUNNING", "pipeline.sweep": "trial"}


def finish_child(tracker, run_id: str, state: str, labels: Mapping[str, Any], trial_number: int,
                 value: float | None = None, pruned_epoch: int | None = None) -> None:
    """Record a trial's outcome on its child run; a pruned trial ends KILLED."""
    from mlflow.entities import Param

    tracker.client.log_batch(run_id, params=[Param(f"trial.{k}", str(v)) for k, v in sorted(labels.items())])
    tracker.set_tag(run_id, "optuna.state", state)
    tracker.set_tag(run_id, "optuna.trial_number", str(trial_number))
    if value is not None:
        tracker.log_metrics(run_id, {"optuna.value": value})
    if pruned_epoch is not None:
        tracker.set_tag(run_id, "optuna.pruned_epoch", str(pruned_epoch))
        tracker.log_metrics(run_id, {"optuna.pruned_epoch": float(pruned_epoch)})
    if state == "PRUNED":
        tracker.client.set_terminated(run_id, status="KILLED")


def finish_parent(tracker, run_id: str, status: str, metrics: Mapping[str, float], tags: Mapping[str, str],
                  artifacts: Path | None) -> None:
    """Log the study's results, plots and summary to the parent run and close it with ``status``."""
    tracker.log_metrics(run_id, metrics)
    for key, value in tags.items():
        tracker.set_tag(run_id, key, value)
    if artifacts is not None and artifacts.is_dir():
        tracker.log_artifact(run_id, artifacts, "study")
    tracker.client.set_terminated(run_id, status=status)


def _exists(tracker, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        return tracker.client.get_run(run_id).info.lifecycle_stage == "active"
    except MlflowException:
        return False
