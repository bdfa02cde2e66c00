"""``pipeline sweep``: check everything, prepare once, run the workers, then report and optionally apply the best."""
from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import PipelineError


@dataclass(frozen=True)
class Request:
    """The command line of one ``pipeline sweep``."""

    space: str
    n_trials: int | None = None
    workers: int = 1
    storage: str | None = None
    study: str | None = None
    timeout: float | None = None
    apply_best: bool = False


def run_sweep(request: Request, root: Path) -> int:
    """Run (or resume) the sweep; return the exit code."""
    sweep, study, tracker, registry = setup(request, root)
    print(f"sweep {sweep.study}: {sweep.n_trials} trials, {sweep.workers} worker(s), storage {_shown(sweep.storage_url)}, "
          f"MLflow parent run {sweep.parent_run_id}", file=sys.stderr)
    try:
        codes = run_workers(sweep, request.workers)
    except BaseException:
        tracker.client.set_terminated(sweep.parent_run_id, status="FAILED")
        raise
    return finish(sweep, study, tracker, codes, request, registry)


def setup(request: Request, root: Path):
    """Every check that can fail before a trial, cheapest first; then the shared data and the parent run."""
    from pipeline.config import read_yaml
    from pipeline.registry import Registry, create_plugin_manager
    from pipeline.sweep import algorithms, check, storage
    from pipeline.sweep.parse import load_space

    if request.workers < 1 or (request.n_trials is not None and request.n_trials < 1):
        raise PipelineError("--workers and --n-trials must be positive integers.")
    space = load_space(request.space, root)
    if request.workers > 1:
        fork_server()
    check.check_keys(space)
    algorithms.check_options(space)
    registry = Registry(create_plugin_manager())
    base = read_yaml(root / "params.yaml")
    url = request.storage or storage.default_url(root)
    backend = storage.open_storage(url, space.heartbeat_interval, space.grace_period)
    corners = check.check_params(space, base, registry)
    return _prepare(request, root, space, registry, base, url, backend, corners)


def _prepare(request: Request, root: Path, space, registry, base, url: str, backend, corners):
    from pipeline import tracking
    from pipeline.sweep import check, runs, storage
    from pipeline.sweep.job import Sweep, study_folder
    from pipeline.sweep.prepare import check_base, prepare_once
    from pipeline.sweep.worker import quiet_logs

    quiet_logs()
    name = request.study or space.name
    params = corners[0]  # seed and data are the same at every corner; they cannot be searched
    prepared = prepare_once(study_folder(root, name), params, registry)
    check.check_metrics(space, corners, registry, prepared)
    study = storage.open_study(backend, name, space.direction)  # created only once everything checked out
    check_base(study, space, base)
    tracker = tracking.Tracker(root)
    parent = runs.parent_run(tracker, study, space, params["tracking"]["experiment"], _shown(url))
    sweep = Sweep(root=root, space=space, storage_url=url, study=study.study_name, base=base, parent_run_id=parent,
                  tracking_uri=tracker.uri,
                  n_trials=request.n_trials or space.n_trials, workers=request.workers, trials_before=len(study.trials),
                  deadline=time.time() + request.timeout if request.timeout else None)
    return sweep, study, tracker, registry


def _shown(url: str) -> str:
    from pipeline.sweep.storage import shown

    return shown(url)


def run_workers(sweep, count: int) -> list[int]:
    """Run worker 0 in this process and ``count - 1`` more in child processes; return their exit codes."""
    from pipeline.sweep.worker import INTERRUPTED, run_worker, worker_process

    if count == 1:
        try:
            return [run_worker(sweep, 0, threading.Lock())]
        except KeyboardInterrupt:
            return [INTERRUPTED]
    context = fork_server()
    lock = context.Lock()
    children = [context.Process(target=worker_process, args=(sweep, index, lock), name=f"sweep-worker-{index}")
                for index in range(1, count)]
    for child in children:
        child.start()
    try:
        own = run_worker(sweep, 0, lock)
    except (KeyboardInterrupt, SystemExit):
        own = INTERRUPTED
    except BaseException:
        _stop(children)
        raise
    if own == INTERRUPTED:  # Ctrl-C reached the children too; a terminated sweep passes the signal on
        _stop(children)
    for child in children:
        child.join()
    return [own, *(child.exitcode for child in children)]


def fork_server():
    """The multiprocessing context local workers start from, its server started (once) in the background.

    A fork server imports torch, Lightning and MLflow once and forks every worker from that clean
    process: cheaper than importing them again per worker, and it never forks this process, whose
    torch thread pools are already running. Started before the checks, it imports while they run.
    """
    from multiprocessing import forkserver

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["pipeline.sweep.worker", "pipeline.sweep.trial", "pipeline.stages.train",
                                    "lightning.pytorch", "mlflow", "optuna_integration"])
    forkserver.ensure_running()
    return context


def _stop(children) -> None:
    """Ask each child to end its trial as interrupted (SIGTERM), and wait for it."""
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join()


def finish(sweep, study, tracker, codes: list[int], request: Request, registry) -> int:
    """Print the summary, record it on the parent run, apply the best trial if asked; return the exit code."""
    from optuna.trial import TrialState

    from pipeline.sweep import best as best_module
    from pipeline.sweep import report, runs
    from pipeline.sweep.worker import DONE, INTERRUPTED, plan

    table = report.rows(study, sweep.space)
    report.print_summary(study, sweep.space, table)
    outputs = report.write_outputs(study, sweep.space, table, sweep.folder / "report")
    complete = plan(study, sweep.n_trials) == DONE
    interrupted = INTERRUPTED in codes
    failed = [index for index, code in enumerate(codes) if code not in (0, INTERRUPTED) and code is not None and code > 0]
    died = [index for index, code in enumerate(codes) if code is not None and code < 0]
    for index in died:
        print(f"warning: worker {index} was killed (signal {-codes[index]}); its trial was queued again.", file=sys.stderr)
    status = "KILLED" if interrupted else "FAILED" if failed else "FINISHED"
    found = report.best_trial(study)
    counts = {state.name.lower(): float(len(study.get_trials(deepcopy=False, states=(state,))))
              for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    metrics = {f"trials.{k}": v for k, v in counts.items()}
    tags = {"optuna.complete": str(complete).lower()}
    if found is not None:
        metrics[f"best.{sweep.space.metric}"] = found.value
        tags["optuna.best_trial"] = str(found.number)
    runs.finish_parent(tracker, sweep.parent_run_id, status, metrics, tags, outputs)
    if interrupted:
        print("sweep interrupted; run the same command again to continue the study.", file=sys.stderr)
        return INTERRUPTED
    if failed:
        print(f"error: worker(s) {', '.join(map(str, failed))} stopped with an error (shown above); fix it and rerun to continue.", file=sys.stderr)
        return 1
    if not complete and sweep.deadline is None:
        print("error: the study is not complete; rerun the same command to continue it.", file=sys.stderr)
        return 1
    if found is not None:
        print(f"best trial #{found.number}: {sweep.space.metric} = {found.value:.6g}; MLflow parent run {sweep.parent_run_id}")
    if request.apply_best:
        _, overrides = best_module.apply_best(study, sweep.space, sweep.root / "params.yaml", registry)
        print(f"params.yaml now holds trial #{found.number}'s values; `dvc repro` reproduces it. The same with Hydra:")
        print(best_module.dvc_command(overrides))
    return 0
