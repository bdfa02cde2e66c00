"""One trial: the trial's params through the train and evaluate stages ``dvc repro`` runs.

The trial's value, which Optuna ranks, is the space's validation metric (``select``); the test
metrics are recorded beside it (user attrs ``test.<name>``, the child run's ``test.*``) and never
rank anything.
"""

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
from pipeline.stages.console import quiet_known_noise
from pipeline.sweep.metric_names import shown
from pipeline.sweep.space import Space
from pipeline.sweep.stage_run import ChildRun, train_and_evaluate
from pipeline.tracking.runs import RUN_NAME_TAG, Tracker
from pipeline.training.callbacks.divergence import TrainingDiverged

FOLDER_ATTR = "sweep.folder"  # user attr: the trial's folder number, inherited by its retries
RUN_ID_ATTR = "mlflow.run_id"  # user attr: the trial's MLflow child run
MAX_RETRIES = 3  # a trial that keeps killing its worker (out of memory, say) stops being retried


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
    if space.monitor_direction != space.select_direction:
        trial = _NegatedReports(trial)
    return [PyTorchLightningPruningCallback(trial, monitor=space.monitor)]


class Objective:
    """Optuna's objective: train and evaluate one trial in its own folder, return the validation
    metric it is ranked on."""

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
            print(f"trial {trial.number} stopped; it runs again with the same values.", flush=True)
            raise KeyboardInterrupt from stop  # Optuna marks the trial failed, then re-raises

    def _run(self, trial) -> float:
        sweep, select = self.sweep, self.sweep.space.select
        folder = trial.user_attrs.get(FOLDER_ATTR, trial.number)  # a retry resumes its original's
        trial.set_user_attr(FOLDER_ATTR, folder)
        trial.set_user_attr("sweep.worker", f"{socket.gethostname()}:{os.getpid()}")
        params = validate(sweep.space.suggest(trial, sweep.base), self.registry)
        own = sweep.folder / "trials" / f"{folder:04d}"
        paths = Paths(own, prepared_dir=sweep.folder / "prepared")

        def known(run_id: str) -> None:  # a retry continues its original's run
            self.run_id = run_id
            trial.set_user_attr(RUN_ID_ATTR, run_id)

        tags = {RUN_NAME_TAG: f"{sweep.study}/trial-{trial.number}", "optuna.study": sweep.study}
        tags |= {"optuna.trial": str(folder), "optuna.trial_number": str(trial.number)}
        tags |= {"optuna.state": "RUNNING", "pipeline.sweep": "trial"}
        child = ChildRun(sweep.parent_run_id, tags, pruning_callbacks(trial, sweep.space), known)
        try:
            outcome = train_and_evaluate(params, self.registry, paths, child)
            value = outcome.validation.get(select, math.nan)
            for name, number in outcome.test.items():  # reported, never ranked
                trial.set_user_attr(shown(name), number)
            if not math.isfinite(value):
                raise TrainingDiverged(f"{select} is {value}")
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
        if value is not None:  # the objective under its split's name, beside the test.* metrics
            metrics[shown(self.sweep.space.select)] = value
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


class _NoStopTraceback(logging.Filter):
    """Drops Optuna's report of a trial stopped by Ctrl-C or a termination signal: a traceback of
    where the stop landed, while the sweep says in one line that the trial runs again."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, KeyboardInterrupt)


def start_worker(root: Path, workers: int) -> None:
    """What a sweep's or a comparison's worker process sets first: its runs recorded in the
    project's MLflow store (they train in folders of their own), its share of the cores, quiet
    logs."""
    from pipeline.tracking.runs import tracking_uri

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri(root)
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        import torch  # K workers each using every core run slower than one

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    quiet()


def quiet() -> None:
    """Keep Optuna's one line per trial: no Lightning banner, no warning every trial repeats, no
    traceback for a stopped trial."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    optimize = logging.getLogger("optuna.study._optimize")  # where Optuna reports failed trials
    if not any(isinstance(f, _NoStopTraceback) for f in optimize.filters):
        optimize.addFilter(_NoStopTraceback())
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    # Heartbeats, their retries, fail_stale_trials, metric names: Optuna marks them experimental.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    quiet_known_noise()  # and run_stage drops each trial's own checkpoint-folder warning
