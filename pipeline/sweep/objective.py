"""One trial: the trial's params through the train and evaluate stages ``dvc repro`` runs."""

from __future__ import annotations

import logging
import math
import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna

from pipeline.params.validate import validate
from pipeline.paths import Paths
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.stages import run_stage
from pipeline.stages.console import quiet_known_noise
from pipeline.stages.context import RunContext
from pipeline.stages.outputs import read_run_id, write_json
from pipeline.sweep.space import Space
from pipeline.tracking.runs import RUN_NAME_TAG, Tracker
from pipeline.training.callbacks.divergence import TrainingDiverged

FOLDER_ATTR = "sweep.folder"  # user attr: the trial's folder number, inherited by its retries
RUN_ID_ATTR = "mlflow.run_id"  # user attr: the trial's MLflow child run
MAX_RETRIES = 3  # a trial that keeps killing its worker (out of memory, say) stops being retried
INTERRUPTED = 130  # a worker's exit code after Ctrl-C or SIGTERM, as a shell reports SIGINT


@dataclass(frozen=True)
class Sweep:
    """What every worker of one sweep shares (plain data, so it pickles into worker processes)."""

    root: Path  # the project
    folder: Path  # optuna/<study>/: the prepared data, the trials' folders and the report
    space: Space
    storage_url: str
    study: str
    base: Mapping[str, Any]  # raw params.yaml the trials start from
    parent_run_id: str
    n_trials: int  # trials the study holds when done, counted over all workers and machines
    workers: int = 1  # local worker processes (they split the CPU cores)
    trials_before: int = 0  # trials the study held when this command started (seeds samplers)
    deadline: float | None = None  # time.time() after which no trial starts


@dataclass
class _NegatedReports:
    """A trial reporting ``-value``, for a monitor that moves against the objective."""

    _trial: Any

    def report(self, value: float, step: int) -> None:
        self._trial.report(-value, step)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def pruning_callbacks(trial, space: Space) -> list:
    """Optuna's Lightning callback reporting the space's monitor after each validation."""
    if space.monitor is None:
        return []
    from optuna_integration import PyTorchLightningPruningCallback

    # Pruners compare in the study's direction: a study maximizing the ELBO while watching
    # val_loss (-ELBO) reports -val_loss. The callback reports only through ``trial.report``.
    if space.monitor_direction != space.direction:
        trial = _NegatedReports(trial)
    return [PyTorchLightningPruningCallback(trial, monitor=space.monitor)]


class Objective:
    """Optuna's objective: train and evaluate one trial in its own folder, return the metric."""

    def __init__(self, sweep: Sweep):
        self.sweep, self.registry = sweep, Registry(create_plugin_manager())
        self.tracker = Tracker(sweep.root)
        self.run_id: str | None = None  # the trial's MLflow child run, once the train stage made it

    def __call__(self, trial) -> float:
        self.run_id = None
        try:
            # Libraries reset warning filters along the way; a fresh context per trial keeps them.
            with warnings.catch_warnings():
                quiet()
                return self._run(trial)
        except (KeyboardInterrupt, SystemExit) as stop:  # Ctrl-C, or a termination signal
            queue_again(trial)
            self._finish(trial, "INTERRUPTED")
            raise KeyboardInterrupt from stop  # Optuna marks the trial failed, then re-raises

    def _run(self, trial) -> float:
        sweep, metric = self.sweep, self.sweep.space.metric
        folder = trial.user_attrs.get(FOLDER_ATTR, trial.number)  # a retry resumes its original's
        trial.set_user_attr(FOLDER_ATTR, folder)
        trial.set_user_attr("sweep.worker", f"{socket.gethostname()}:{os.getpid()}")
        params = validate(sweep.space.suggest(trial, sweep.base), self.registry)
        own = sweep.folder / "trials" / f"{folder:04d}"
        paths = Paths(own, prepared_dir=sweep.folder / "prepared")
        record = paths.root / "trial.json"  # the child run this trial and its retries share
        self.run_id = read_run_id(record) if record.is_file() else None
        if self.run_id:  # a retry continues its original's run
            trial.set_user_attr(RUN_ID_ATTR, self.run_id)

        def created(run_id: str) -> None:
            self.run_id = run_id
            write_json(record, {"run_id": run_id})
            trial.set_user_attr(RUN_ID_ATTR, run_id)

        tags = {RUN_NAME_TAG: f"trial-{trial.number}", "optuna.study": sweep.study}
        tags |= {"optuna.trial": str(folder), "optuna.trial_number": str(trial.number)}
        tags |= {"optuna.state": "RUNNING", "pipeline.sweep": "trial"}
        links = {"parent_run_id": sweep.parent_run_id, "on_run_created": created, "run_tags": tags}
        callbacks = pruning_callbacks(trial, sweep.space)
        ctx = RunContext(params, self.registry, paths, extra_callbacks=callbacks, **links)
        try:
            # A retry killed during evaluation keeps its finished training.
            trained = paths.run_record.is_file() and read_run_id(paths.run_record) == self.run_id
            if self.run_id is None or not trained:
                run_stage("train", ctx)
            value = float(run_stage("evaluate", ctx)[metric])
            if not math.isfinite(value):
                raise TrainingDiverged(f"{metric} is {value}")
        except optuna.TrialPruned:
            epoch = trial.study.get_trials(deepcopy=False)[trial.number].last_step
            trial.set_user_attr("sweep.pruned_epoch", epoch)
            self._finish(trial, "PRUNED", epoch=epoch)
            raise
        except TrainingDiverged as diverged:  # hopeless, not broken: prune it, the sweep goes on
            trial.set_user_attr("sweep.diverged", str(diverged))
            self._finish(trial, "PRUNED")
            raise optuna.TrialPruned(str(diverged)) from diverged
        self._finish(trial, "COMPLETE", value=value)
        return value

    def _finish(self, trial, state: str, value: float | None = None, epoch: int | None = None):
        """Record the trial's outcome on its child run; a pruned trial's run ends KILLED."""
        if self.run_id is None:
            return
        self.tracker.log_params(self.run_id, {"trial": trial.params})
        tags = {"optuna.state": state, "optuna.trial_number": str(trial.number)}
        tags |= {} if epoch is None else {"optuna.pruned_epoch": str(epoch)}
        for key, text in tags.items():
            self.tracker.set_tag(self.run_id, key, text)
        metrics = {"optuna.value": value, "optuna.pruned_epoch": epoch}
        metrics = {key: float(number) for key, number in metrics.items() if number is not None}
        self.tracker.log_metrics(self.run_id, metrics)
        if state == "PRUNED":
            self.tracker.set_status(self.run_id, "KILLED")


def retry_callback():
    """Optuna's callback queueing a dead trial again with its params, user attrs and folder."""
    return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def queue_again(trial) -> None:
    """Queue an interrupted trial's params as a WAITING trial, as Optuna retries a dead one."""
    retry_callback()(trial.study, trial.study.get_trials(deepcopy=False)[trial.number])


def quiet() -> None:
    """Keep Optuna's one line per trial: no Lightning banner, no warning every trial repeats."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Heartbeats, their retries, fail_stale_trials, metric names: Optuna marks them experimental.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    quiet_known_noise()  # and run_stage drops each trial's own checkpoint-folder warning
