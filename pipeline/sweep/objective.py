"""One trial: the trial's params through the train and evaluate stages ``dvc repro`` runs."""

from __future__ import annotations

import logging
import math
import os
import re
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from pipeline.sweep.space import Space

FOLDER_ATTR = "sweep.folder"  # user attr: the trial's folder number, inherited by its retries
RUN_ID_ATTR = "mlflow.run_id"  # user attr: the trial's MLflow child run
MAX_RETRIES = 3  # a trial that keeps killing its worker (out of memory, say) stops being retried
INTERRUPTED = 130  # a worker's exit code after Ctrl-C or SIGTERM, as a shell reports SIGINT


class SurplusTrial(Exception):
    """A trial created after the study was already full (it ends FAIL without training)."""


class QuietSurplus(logging.Filter):
    """Drops Optuna's two "Trial N failed" warnings (one with a traceback) for a surplus trial:
    giving way is the plan, not a failure to report."""

    def __init__(self):
        super().__init__()
        self.trial: str | None = None  # "Trial N" of the surplus trial just reported

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and isinstance(record.exc_info[1], SurplusTrial):
            self.trial = message.split(" failed", 1)[0]
            return False
        if self.trial and message.startswith(f"{self.trial} failed with value"):
            self.trial = None
            return False
        return True


def counted_states() -> tuple:
    """The trial states that fill the study: all but FAIL, whose retry (or successor) counts."""
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


def is_surplus(trial, n_trials: int) -> bool:
    """True when ``n_trials`` counted trials came before this one.

    Workers on other machines count the study without a shared lock, so two can start a trial
    for the last slot at once; the database numbered them, and the later one gives way.
    """
    earlier = trial.study.get_trials(deepcopy=False, states=counted_states())
    return sum(t.number < trial.number for t in earlier) >= n_trials


@dataclass(frozen=True)
class Sweep:
    """What every worker of one sweep shares (plain data, so it pickles into worker processes)."""

    root: Path  # the project
    space: Space
    storage_url: str
    study: str
    base: Mapping[str, Any]  # raw params.yaml the trials start from
    parent_run_id: str
    tracking_uri: str  # the project's MLflow store, which every trial's runs go to
    n_trials: int  # trials the study holds when done, counted over all workers
    workers: int = 1  # local worker processes (they split the CPU cores)
    trials_before: int = 0  # trials the study held when this command started (seeds samplers)
    deadline: float | None = None  # time.time() after which no trial starts

    @property
    def folder(self) -> Path:
        """``optuna/<study>/``: the prepared data, the trials' folders and the report."""
        return study_folder(self.root, self.study)

    def trial_root(self, number: int) -> Path:
        """A trial's own root; a retry gets its original's folder, so it resumes there."""
        return self.folder / "trials" / f"{number:04d}"


def study_folder(root: Path, study: str) -> Path:
    """The folder of ``study`` under the project's git-ignored ``optuna/``."""
    return Path(root) / "optuna" / re.sub(r"[^A-Za-z0-9_.-]+", "_", study)


class TrialInterrupted(Exception):
    """A trial stopped by Ctrl-C or a termination signal; its params are queued to run again."""


class _NegatedReports:
    """A trial reporting ``-value``: pruners compare in the study's direction, so a study that
    maximizes the ELBO while watching ``val_loss`` (−ELBO) must report ``-val_loss``. Optuna's
    Lightning callback reports only through ``trial.report``; Lightning's metrics stay untouched.
    """

    def __init__(self, trial):
        self._trial = trial

    def report(self, value: float, step: int) -> None:
        """Report ``-value``."""
        self._trial.report(-value, step)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)


def pruning_callbacks(trial, space: Space) -> list:
    """Optuna's Lightning callback reporting the space's monitor after each validation."""
    if space.monitor is None:
        return []
    from optuna_integration import PyTorchLightningPruningCallback

    if space.monitor_direction != space.direction:
        trial = _NegatedReports(trial)
    return [PyTorchLightningPruningCallback(trial, monitor=space.monitor)]


class Objective:
    """Optuna's objective: train and evaluate one trial in its own folder, return the metric."""

    def __init__(self, sweep: Sweep):
        from pipeline.plugin.registry import Registry, create_plugin_manager
        from pipeline.tracking import runs as tracking

        self.sweep = sweep
        self.registry = Registry(create_plugin_manager())
        self.tracker = tracking.Tracker(sweep.root)
        self.run_id: str | None = None  # the trial's MLflow child run, once the train stage made it
        self.on_start: Callable[[], None] = lambda: None  # the worker's Claim.release

    def __call__(self, trial) -> float:
        self.on_start()  # the trial exists now: the next worker may count the study
        if is_surplus(trial, self.sweep.n_trials):
            trial.set_user_attr("sweep.surplus", True)
            raise SurplusTrial(f"trial {trial.number} found the study full; it does not run")
        self.run_id = None
        try:
            # Libraries reset warning filters along the way; a fresh context per trial keeps them.
            with warnings.catch_warnings():
                quiet()
                return self._run(trial)
        except (KeyboardInterrupt, SystemExit) as stop:
            queue_again(trial)
            self._finish(trial, "INTERRUPTED")
            raise TrialInterrupted(
                f"trial {trial.number} was interrupted; it runs again when the sweep resumes"
            ) from stop

    def _run(self, trial) -> float:
        import optuna

        from pipeline.params.validate import validate
        from pipeline.paths import Paths
        from pipeline.stages import run_stage
        from pipeline.stages.context import RunContext
        from pipeline.stages.outputs import read_run_id, write_json
        from pipeline.tracking.runs import RUN_NAME_TAG
        from pipeline.training.callbacks.divergence import TrainingDiverged

        sweep, metric = self.sweep, self.sweep.space.metric
        folder = trial.user_attrs.get(FOLDER_ATTR, trial.number)
        trial.set_user_attr(FOLDER_ATTR, folder)
        trial.set_user_attr("sweep.worker", f"{socket.gethostname()}:{os.getpid()}")
        params = validate(sweep.space.suggest(trial, sweep.base), self.registry)
        paths = Paths(root=sweep.trial_root(folder), prepared_dir=sweep.folder / "prepared")
        record = paths.root / "trial.json"  # the child run this trial and its retries share
        self.run_id = read_run_id(record) if record.is_file() else None
        if self.run_id:  # a retry continues its original's run
            trial.set_user_attr(RUN_ID_ATTR, self.run_id)

        def created(run_id: str) -> None:
            self.run_id = run_id
            write_json(record, {"run_id": run_id})
            trial.set_user_attr(RUN_ID_ATTR, run_id)

        tags = {
            RUN_NAME_TAG: f"trial-{trial.number}",
            "optuna.study": sweep.study,
            "optuna.trial": str(folder),
            "optuna.trial_number": str(trial.number),
            "optuna.state": "RUNNING",
            "pipeline.sweep": "trial",
        }
        ctx = RunContext(
            params=params,
            registry=self.registry,
            paths=paths,
            extra_callbacks=pruning_callbacks(trial, sweep.space),
            parent_run_id=sweep.parent_run_id,
            on_run_created=created,
            run_tags=tags,
        )
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
            self._finish(trial, "PRUNED", pruned_epoch=epoch)
            raise
        except TrainingDiverged as diverged:  # hopeless, not broken: prune it, the sweep goes on
            trial.set_user_attr("sweep.diverged", str(diverged))
            self._finish(trial, "PRUNED")
            raise optuna.TrialPruned(str(diverged)) from diverged
        self._finish(trial, "COMPLETE", value=value)
        return value

    def _finish(
        self, trial, state: str, value: float | None = None, pruned_epoch: int | None = None
    ) -> None:
        """Record the trial's outcome on its child run; a pruned trial's run ends KILLED."""
        tracker, run_id = self.tracker, self.run_id
        if run_id is None:
            return
        tracker.log_params(run_id, {"trial": trial.params})
        tags = {"optuna.state": state, "optuna.trial_number": str(trial.number)}
        metrics = {"optuna.value": value, "optuna.pruned_epoch": pruned_epoch}
        if pruned_epoch is not None:
            tags["optuna.pruned_epoch"] = str(pruned_epoch)
        for key, text in tags.items():
            tracker.set_tag(run_id, key, text)
        tracker.log_metrics(run_id, {k: float(v) for k, v in metrics.items() if v is not None})
        if state == "PRUNED":
            tracker.set_status(run_id, "KILLED")


def retry_callback():
    """Optuna's callback queueing a dead trial again with its params, user attrs and folder."""
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)


def queue_again(trial) -> None:
    """Queue an interrupted trial's params as a WAITING trial, as Optuna retries a dead one."""
    frozen = trial.study.get_trials(deepcopy=False)[trial.number]
    retry_callback()(trial.study, frozen)


def quiet() -> None:
    """Keep Optuna's one line per trial: no Lightning banner, no warning every trial repeats."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from pipeline.stages.console import quiet_known_noise

    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    quiet_known_noise()  # and run_stage drops each trial's own checkpoint-folder warning
