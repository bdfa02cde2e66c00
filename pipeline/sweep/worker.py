"""A worker: claims trial slots of the study one at a time until it holds ``n_trials`` trials.

``n_trials`` counts the study's trials, not one worker's, so a resumed or parallel sweep still ends
with exactly that many. Local workers claim a slot under one lock (held until Optuna has created the
trial), so they never overshoot; workers on other machines only share the database, and may start
one extra trial each when they claim the last slot at the same instant.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings

from pipeline.errors import PipelineError
from pipeline.sweep.job import Sweep

RUN, WAIT, DONE = "run", "wait", "done"
INTERRUPTED = 130


def plan(study, n_trials: int) -> str:
    """What a worker does next: run a trial, wait for running ones (a dead worker's is retried), or stop."""
    import optuna
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # queues dead workers' trials again, with their params
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return RUN
    # A failed trial frees its slot: a dead worker's trial is replaced by its retry, a crashed one by a new trial.
    if sum(t.state != TrialState.FAIL for t in trials) < n_trials:
        return RUN
    return WAIT if any(t.state == TrialState.RUNNING for t in trials) else DONE


def run_worker(sweep: Sweep, index: int, lock) -> int:
    """Run trials until the study is full or the deadline passes; 0 when done, 130 when interrupted."""
    import optuna

    from pipeline.sweep.algorithms import build_pruner, build_sampler
    from pipeline.sweep.storage import open_storage
    from pipeline.sweep.trial import Objective, TrialInterrupted

    # Trials train in their own folders, but their MLflow runs belong in the project's store,
    # which the stages find through this variable (a worker process does not inherit it).
    os.environ["MLFLOW_TRACKING_URI"] = sweep.tracking_uri
    share_cores(sweep.workers)
    quiet_logs()
    space = sweep.space
    storage = open_storage(sweep.storage_url, space.heartbeat_interval, space.grace_period)
    study = optuna.load_study(study_name=sweep.study, storage=storage, pruner=build_pruner(space),
                              sampler=build_sampler(space, index, sweep.trials_before))
    objective = Objective(sweep)
    while sweep.deadline is None or time.time() < sweep.deadline:
        lock.acquire()
        claim = [True]

        def release() -> None:
            if claim[0]:
                claim[0] = False
                lock.release()

        objective.on_start = release
        try:
            step = plan(study, sweep.n_trials)
            if step == RUN:
                study.optimize(objective, n_trials=1, gc_after_trial=False)
        except TrialInterrupted:
            return INTERRUPTED
        finally:
            release()
        if step == DONE:
            break
        if step == WAIT:
            time.sleep(space.heartbeat_interval)
    return 0


def worker_process(sweep: Sweep, index: int, lock) -> None:
    """Entry point of a spawned worker process: exit 0 done, 130 interrupted, 2 user error, 1 crash."""
    signal.signal(signal.SIGTERM, _terminate)
    quiet_logs()
    try:
        code = run_worker(sweep, index, lock)
    except PipelineError as error:
        print(f"error: worker {index}: {error}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = INTERRUPTED
    sys.exit(code)


def share_cores(workers: int) -> None:
    """Give each of ``workers`` local workers its share of the cores, unless OMP_NUM_THREADS says otherwise."""
    # Several workers each running torch's default one thread per core oversubscribe the CPU,
    # and spinning threads make small models many times slower.
    if workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def quiet_logs() -> None:
    """Keep Optuna's one line per trial; drop Lightning's per-trial banner about devices."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    quiet_warnings()


def quiet_warnings() -> None:
    """Ignore the warnings every trial would repeat (the objective calls it inside its own warnings context)."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")


def _terminate(signum, frame):  # a terminated worker ends its trial like Ctrl-C: queued again
    raise SystemExit(128 + signum)
