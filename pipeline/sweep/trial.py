"""One trial: the trial's params through ``pipeline.stages.run_stage`` — the code ``dvc repro`` runs."""
from __future__ import annotations

import json
import math
import os
import socket
import warnings
from typing import Any, Callable

from pipeline.sweep import runs
from pipeline.sweep.job import FOLDER_ATTR, Sweep


class TrialInterrupted(Exception):
    """A trial stopped by Ctrl-C or a termination signal; the same params are queued to run again."""


class Objective:
    """Optuna's objective for a sweep: train and evaluate one trial in its own folder, return the metric."""

    def __init__(self, sweep: Sweep):
        from pipeline import tracking
        from pipeline.registry import Registry, create_plugin_manager

        self.sweep = sweep
        self.registry = Registry(create_plugin_manager())
        self.tracker = tracking.Tracker(sweep.root)
        self.on_start: Callable[[], None] = lambda: None  # the worker frees its claim on a trial slot here
        self.record: TrialRecord | None = None

    def __call__(self, trial) -> float:
        from pipeline.sweep.worker import quiet_warnings

        self.on_start()
        self.record = None
        try:
            # Libraries reset warning filters along the way; a fresh context per trial keeps them.
            with warnings.catch_warnings():
                quiet_warnings()
                return self._run(trial)
        except (KeyboardInterrupt, SystemExit) as stop:
            _queue_again(trial)
            self._finish(trial, "INTERRUPTED")
            raise TrialInterrupted(f"trial {trial.number} was interrupted; it runs again when the sweep resumes") from stop

    def _run(self, trial) -> float:
        import optuna

        from pipeline.config import validate
        from pipeline.context import RunContext
        from pipeline.divergence import TrainingDiverged
        from pipeline.paths import Paths
        from pipeline.stages import run_stage
        from pipeline.sweep.callbacks import pruning_callbacks

        sweep = self.sweep
        folder = trial.user_attrs.get(FOLDER_ATTR)
        if folder is None:
            folder = trial.number
            trial.set_user_attr(FOLDER_ATTR, folder)
        trial.set_user_attr("sweep.worker", f"{socket.gethostname()}:{os.getpid()}")
        params = validate(sweep.space.suggest(trial, sweep.base), self.registry)
        paths = Paths(root=sweep.trial_root(folder), prepared_dir=sweep.prepared)
        record = self.record = TrialRecord(paths.root / "trial.json")

        ctx = RunContext(params=params, registry=self.registry, paths=paths, extra_callbacks=pruning_callbacks(trial, sweep.space),
                         parent_run_id=sweep.parent_run_id, on_run_created=record.save,
                         run_tags=runs.child_tags(sweep.study, folder, trial.number))
        try:
            if not record.trained(paths):  # a retry killed during evaluation keeps its finished training
                run_stage("train", ctx)
            metrics = run_stage("evaluate", ctx)
        except optuna.TrialPruned:
            epoch = _current(trial).last_step
            trial.set_user_attr("sweep.pruned_epoch", epoch)
            self._finish(trial, "PRUNED", pruned_epoch=epoch)
            raise
        except TrainingDiverged as diverged:  # a diverged trial is hopeless, not broken: prune it rather than fail the sweep
            trial.set_user_attr("sweep.diverged", str(diverged))
            self._finish(trial, "PRUNED")
            raise optuna.TrialPruned(str(diverged)) from diverged
        value = float(metrics[sweep.space.metric])
        if not math.isfinite(value):  # a diverged trial is hopeless, not broken: prune it rather than fail the sweep
            trial.set_user_attr("sweep.diverged", True)
            self._finish(trial, "PRUNED")
            raise optuna.TrialPruned(f"{sweep.space.metric} is {value}")
        self._finish(trial, "COMPLETE", value=value)
        return value

    def _finish(self, trial, state: str, value: float | None = None, pruned_epoch: int | None = None) -> None:
        if self.record is not None and self.record.run_id:
            runs.finish_child(self.tracker, self.record.run_id, state, trial.params, trial.number, value, pruned_epoch)


class TrialRecord:
    """``trial.json`` in a trial's folder: the MLflow child run the trial (and any retry of it) belongs to."""

    def __init__(self, path):
        self.path = path
        self.run_id = json.loads(path.read_text())["run_id"] if path.is_file() else None

    def save(self, run_id: str) -> None:
        """Remember the child run the train stage just opened."""
        from pipeline.outputs import write_json

        self.run_id = run_id
        write_json(self.path, {"run_id": run_id})

    def trained(self, paths) -> bool:
        """True when the train stage finished for this trial's child run (``models/run.json`` names it)."""
        from pipeline.outputs import read_run_id

        return self.run_id is not None and paths.run_record.is_file() and read_run_id(paths.run_record) == self.run_id


def _current(trial) -> Any:
    """The trial as stored (intermediate values, attrs), read through the public study API."""
    from optuna.trial import TrialState

    running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    return next(t for t in running if t.number == trial.number)


def _queue_again(trial) -> None:
    """Queue the same params as a new WAITING trial, exactly as Optuna retries a trial whose worker died."""
    import warnings

    import optuna

    from pipeline.sweep.storage import MAX_RETRIES

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)(trial.study, _current(trial))
