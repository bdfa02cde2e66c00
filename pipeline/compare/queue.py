"""The pairs as a queue in Optuna's storage: enqueue what is missing, let workers drain it.

A rerun after a kill enqueues only the pairs without a finished, queued or running trial, so
finished pairs never run again; a running trial whose worker died is failed and queued again by
the heartbeat retry (:func:`pipeline.sweep.objective.retry_callback`) once its grace period ends.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import optuna
from optuna.trial import TrialState

from pipeline.compare.runs import SEED, VARIANT, Comparison, PairRun, pair_of
from pipeline.compare.spec import Spec
from pipeline.sweep.command import DONE, RUN, WAIT, open_storage
from pipeline.sweep.objective import start_worker
from pipeline.sweep.workers import INTERRUPTED

HEARTBEAT = (10, 60)  # seconds between a running pair's signs of life; silence that means dead
PENDING = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)


def pairs(spec: Spec) -> Iterator[tuple[str, int]]:
    """Every (variant, seed), seed by seed, so a stopped comparison has whole seeds first."""
    for seed in spec.seeds:
        for variant in spec.names:
            yield variant, seed


def enqueue_missing(study, spec: Spec) -> int:
    """Queue each pair no trial finished, holds or runs; return how many were queued."""
    covered = {pair_of(t) for t in study.get_trials(deepcopy=False, states=PENDING)}
    missing = [pair for pair in pairs(spec) if pair not in covered]
    for variant, seed in missing:
        attrs = {VARIANT: variant, SEED: seed}
        study.enqueue_trial({"variant": variant, "seed": seed}, user_attrs=attrs)
    return len(missing)


def finished(study) -> dict[tuple[str, int], Any]:
    """The first complete trial of each pair."""
    done: dict[tuple[str, int], Any] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        pair = pair_of(trial)
        if pair is not None:
            done.setdefault(pair, trial)
    return done


def plan(study) -> str:
    """Run queued pairs, wait for running ones (one may belong to a dead worker), or stop."""
    optuna.storages.fail_stale_trials(study)  # queues dead workers' trials again
    states = [t.state for t in study.get_trials(deepcopy=False)]
    if TrialState.WAITING in states:
        return RUN
    return WAIT if TrialState.RUNNING in states else DONE


def run_worker(comparison: Comparison, index: int) -> int:
    """Run queued pairs until none is left; 0 when done, 130 when interrupted."""
    start_worker(comparison.root, comparison.workers)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # a trial's value means nothing here
    storage = open_storage(comparison.storage_url, *HEARTBEAT)
    study = optuna.load_study(study_name=comparison.study, storage=storage)
    run_pair = PairRun(comparison)
    while (step := plan(study)) != DONE:
        if step == WAIT:
            time.sleep(1)
            continue
        try:
            study.optimize(run_pair, n_trials=1, gc_after_trial=False)
        except KeyboardInterrupt:
            return INTERRUPTED
    return 0
