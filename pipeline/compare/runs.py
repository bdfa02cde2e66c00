"""One (variant, seed) pair through the train and evaluate stages, as an Optuna trial.

The study is only the queue and the record: every pair is enqueued as a trial with fixed params
``variant`` and ``seed``; workers take them from the storage they share, a killed worker's pair is
queued again by Optuna's heartbeat retry, and the trial's user attrs keep the pair's metrics.
"""

from __future__ import annotations

import os
import socket
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna

from pipeline.compare.spec import Spec
from pipeline.params.validate import validate
from pipeline.paths import Paths
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.sweep.metric_names import shown
from pipeline.sweep.objective import queue_again, quiet
from pipeline.sweep.stage_run import ChildRun, train_and_evaluate
from pipeline.tracking.runs import RUN_NAME_TAG, Tracker

VARIANT, SEED = "compare.variant", "compare.seed"  # user attrs naming a trial's pair
RUN_ID_ATTR = "mlflow.run_id"


@dataclass(frozen=True)
class Comparison:
    """What every worker of one comparison shares (plain data, so it pickles into workers)."""

    root: Path  # the project
    folder: Path  # comparisons/<name>/: prepared data, one folder per run, the report
    spec: Spec
    params: Mapping[str, Any]  # raw params.yaml every run starts from
    storage_url: str
    study: str
    parent_run_id: str
    workers: int = 1


def pair_folder(comparison: Comparison, variant: str, seed: int) -> Path:
    """Where one pair trains: its checkpoints, model, metrics and MLflow run record."""
    return comparison.folder / "runs" / variant / f"seed-{seed}"


def prepared_folder(folder: Path, spec: Spec, params: Mapping[str, Any], seed: int) -> Path:
    """The folder whose ``prepared/`` split a pair trains on: one shared, or one per seed."""
    if "split" in spec.vary:
        return folder / "splits" / f"seed-{spec.split_seed(params, seed)}"
    return folder


def pair_of(trial: Any) -> tuple[str, int] | None:
    """The (variant, seed) a trial runs, or None for a trial the comparison did not queue."""
    attrs = trial.user_attrs
    return (attrs[VARIANT], int(attrs[SEED])) if VARIANT in attrs else None


class PairRun:
    """Optuna's objective: train and evaluate the trial's pair, keep its metrics as user attrs.

    The trial's value is always 0: nothing is optimized, and a NaN metric would fail the trial.
    """

    def __init__(self, comparison: Comparison):
        self.comparison, self.registry = comparison, Registry(create_plugin_manager())
        self.tracker = Tracker(comparison.root)
        self.run_id: str | None = None

    def __call__(self, trial) -> float:
        self.run_id = None
        try:
            with warnings.catch_warnings():
                quiet()
                return self._run(trial)
        except (KeyboardInterrupt, SystemExit) as stop:  # Ctrl-C, or a termination signal
            queue_again(trial)
            if self.run_id is not None:
                self.tracker.set_status(self.run_id, "KILLED")
            raise KeyboardInterrupt from stop

    def _run(self, trial) -> float:
        pair = pair_of(trial)
        if pair is None:  # a worker found the queue emptied by another one at the same instant
            raise optuna.TrialPruned("no queued pair left")
        comparison, (variant, seed) = self.comparison, pair
        spec = comparison.spec
        trial.set_user_attr("compare.worker", f"{socket.gethostname()}:{os.getpid()}")
        params = validate(spec.raw_params(comparison.params, variant, seed), self.registry)
        data = prepared_folder(comparison.folder, spec, comparison.params, seed) / "prepared"
        paths = Paths(pair_folder(comparison, variant, seed), prepared_dir=data)

        def known(run_id: str) -> None:
            self.run_id = run_id
            trial.set_user_attr(RUN_ID_ATTR, run_id)

        tags = {RUN_NAME_TAG: f"{variant} seed {seed}", "pipeline.compare": "run"}
        tags |= {"compare.name": spec.name, VARIANT: variant, SEED: str(seed)}
        outcome = train_and_evaluate(
            params, self.registry, paths, ChildRun(comparison.parent_run_id, tags, [], known)
        )
        measured = {shown(k): v for k, v in {**outcome.validation, **outcome.test}.items()}
        for name, value in measured.items():
            trial.set_user_attr(name, value)
        if self.run_id is not None:  # val.* beside the test.* the evaluate stage logged
            validation = {k: v for k, v in measured.items() if k.startswith("val.")}
            self.tracker.log_metrics(self.run_id, validation)
        return 0.0
