"""``pipeline sweep``: check everything, prepare the data once, run the workers, then report.

Every worker, local or on another machine, runs :func:`run_worker` against the same storage: it
counts the study's trials before each trial and stops once the study holds ``n_trials``, and the
heartbeat storage with ``RetryHeartbeatStaleTrialCallback`` queues a dead worker's trial again.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.sweep.objective import INTERRUPTED, Sweep, counted_states, study_folder
from pipeline.sweep.space import MISSING, Space, load_space, put

RUN, WAIT, DONE = "run", "wait", "done"
CLAIM_TIMEOUT_S = 60  # counting the trials and creating one takes seconds
FIRST_WAIT_S = 0.25  # a worker waiting on others' trials looks again after this, then twice as long
BASE_ATTR = "sweep.base_params"  # study user attr: params.yaml minus the space's keys
# What a local worker imports while the command checks the space: a trial's libraries, and what
# opening Optuna's and MLflow's SQL stores imports (their migrations' alembic, MLflow's store).
WORKER_IMPORTS = (
    "lightning.pytorch",
    "mlflow",
    "optuna_integration",
    "pipeline.stages.train",
    "pipeline.stages.evaluate",
    "pipeline.sweep.objective",
    "pipeline.plugin.registry",
    "optuna.storages",
    "alembic.command",
    "alembic.migration",
    "mlflow.store.tracking.sqlalchemy_store",
)


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
    from pipeline.sweep import report

    if request.workers < 1 or (request.n_trials is not None and request.n_trials < 1):
        raise PipelineError("--workers and --n-trials must be positive integers.")
    space = load_space(request.space, root)
    sampler_and_pruner(space)
    workers = Workers(request.workers)  # they import what a trial needs while the checks run
    try:
        sweep, study, tracker, registry = _check_and_open(request, root, space)
    except BaseException:
        workers.stop()
        raise
    print(intent(study, sweep.n_trials, request.n_trials is not None), file=sys.stderr)
    print(
        f"sweep {sweep.study}: {sweep.workers} worker(s), storage "
        f"{shown(sweep.storage_url)}, MLflow parent run {sweep.parent_run_id}",
        file=sys.stderr,
    )
    try:
        codes = workers.run(sweep)
    except BaseException:
        tracker.set_status(sweep.parent_run_id, "FAILED")
        raise
    return report.finish(
        sweep,
        study,
        tracker,
        codes,
        plan(study, sweep.n_trials) == DONE,
        request.apply_best,
        registry,
    )


def _check_and_open(request: Request, root: Path, space: Space):
    """Every check that can fail, cheapest first; then the study and its MLflow parent run."""
    from pipeline.params.validate import read_yaml
    from pipeline.plugin.registry import Registry, create_plugin_manager
    from pipeline.sweep import report
    from pipeline.sweep.objective import quiet
    from pipeline.tracking import runs as tracking

    registry = Registry(create_plugin_manager())
    base = read_yaml(root / "params.yaml")
    url = request.storage or default_url(root)
    storage = open_storage(url, space.heartbeat_interval, space.grace_period)
    corners = check_params(space, base, registry)
    tracking.check_reachable(tracking.tracking_uri(root))
    quiet()
    name = request.study or space.name
    existing = existing_study(storage, name)
    if existing is not None:  # before the split its running workers read could be rewritten
        check_base(existing, space, base)
    prepared = prepare_once(study_folder(root, name), corners[0], registry)
    check_metrics(space, corners, registry, prepared)
    study = open_study(storage, name, space)  # created only once everything checked out
    if existing is None:
        check_base(study, space, base)  # records the params a new study starts from
    tracker = tracking.Tracker(root)
    parent = report.open_parent(
        tracker, study, space, corners[0]["tracking"]["experiment"], shown(url)
    )
    sweep = Sweep(
        root=root,
        space=space,
        storage_url=url,
        study=study.study_name,
        base=base,
        parent_run_id=parent,
        tracking_uri=tracker.uri,
        n_trials=request.n_trials or space.n_trials,
        workers=request.workers,
        trials_before=len(study.trials),
        deadline=time.time() + request.timeout if request.timeout else None,
    )
    return sweep, study, tracker, registry


def check_params(space: Space, base: Mapping[str, Any], registry) -> list[dict[str, Any]]:
    """Validate params at every corner of the space; return them, validated."""
    from pipeline.params.validate import validate

    try:
        return [validate(raw, registry) for raw in space.corners(base)]
    except PipelineError as error:
        raise PipelineError(f"{space.source} does not fit params.yaml: {error}") from error


def check_metrics(space: Space, corners: list[Mapping[str, Any]], registry, prepared: Path) -> None:
    """Refuse an objective or monitor that a family the space can pick does not produce.

    An untrained model is scored by the family's own ``evaluate`` and validated for one batch by
    Lightning: names declared by hand would drift from what the code logs; this cannot.
    """
    from pipeline.data.datamodule import PreparedDataModule
    from pipeline.data.prepared import PreparedData
    from pipeline.training.builder import TEST_TRAINER
    from pipeline.training.trainer import build_trainer

    data = PreparedData.load(prepared)
    for family_name, params in {p["model"]["family"]: p for p in reversed(corners)}.items():
        family = registry.family(family_name).load()
        module = family.build(params["model"], data.info)
        module.eval()
        with tempfile.TemporaryDirectory() as out:
            produced = sorted(family.evaluate(module, data, Path(out)))
        if space.metric not in produced:
            raise PipelineError(
                f"{space.source}: objective.metric {space.metric!r} is not "
                f"produced by the evaluate stage of family {family_name!r}; it "
                f"produces: {', '.join(produced)}."
            )
        if space.monitor is None:
            continue
        trainer = build_trainer({**TEST_TRAINER, "limit_val_batches": 1}, [], False, None)
        datamodule = PreparedDataModule(data, params["optimizer"]["batch_size"], params["seed"])
        trainer.validate(module, datamodule=datamodule, verbose=False)
        logged = sorted(k for k in trainer.callback_metrics if not k.endswith("_step"))
        if space.monitor not in logged:
            raise PipelineError(
                f"{space.source}: pruner.monitor {space.monitor!r} is not logged "
                f"by the validation step of family {family_name!r}; it logs: "
                f"{', '.join(logged) or 'nothing'}."
            )


def sampler_and_pruner(space: Space, worker: int = 0, started: int = 0) -> tuple[Any, Any]:
    """The sampler and pruner the space names, their options checked against their arguments.

    Each worker, and each resumed run, draws from its own seeded stream: the same seed twice
    would repeat the same draws.
    """
    import optuna

    options = dict(space.sampler_options)
    seed = options.pop("seed", 0)
    if space.sampler == "tpe":  # running trials count as provisional results: workers spread out
        options.setdefault("constant_liar", True)
    if seed is not None:
        options["seed"] = int(seed) + 1000 * worker + 100_003 * started
    samplers = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler}
    pruners = {
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
        "none": optuna.pruners.NopPruner,
    }
    return (
        _build("sampler", samplers[space.sampler], options, space.source),
        _build("pruner", pruners[space.pruner], space.pruner_options, space.source),
    )


def _build(kind: str, cls: type, options: Mapping[str, Any], source: str) -> Any:
    import optuna

    accepted = {
        name
        for name, p in inspect.signature(cls.__init__).parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    for key in options:
        if key not in accepted:
            raise PipelineError(
                f"{source}: {kind}.{key} is not an option of {cls.__name__}; "
                f"valid: {', '.join(sorted(accepted)) or 'none'}."
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(**options)
    except (TypeError, ValueError) as error:
        raise PipelineError(
            f"{source}: {kind} {cls.__name__} rejected its options {dict(options)}: {error}."
        ) from error


def default_url(root: Path) -> str:
    """``optuna/sweeps.db`` at the project root (git-ignored)."""
    folder = Path(root).resolve() / "optuna"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'sweeps.db'}"


def shown(url: str) -> str:
    """The URL with any password masked, for messages and MLflow."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all; nothing secret to hide
        return url


SCHEMA_ATTEMPTS = 5


def open_storage(url: str, heartbeat_interval: int, grace_period: int) -> Any:
    """Optuna's RDB storage with heartbeats and retry of dead workers' trials, or a clear error.

    Only the RDB storage records heartbeats, so even the embedded default is SQLite.
    """
    import optuna
    from sqlalchemy import exc
    from sqlalchemy.engine import make_url

    from pipeline.sweep.objective import retry_callback

    try:
        backend = make_url(url).get_backend_name()
    except exc.ArgumentError as error:
        raise PipelineError(
            f"--storage {url!r} is not a database URL; use e.g. "
            "sqlite:///optuna/sweeps.db or postgresql://user@host/db."
        ) from error
    # SQLite serializes writers; a generous lock timeout lets local workers share one file.
    engine = {"connect_args": {"timeout": 60}} if backend == "sqlite" else {"pool_pre_ping": True}
    try:
        for attempt in range(SCHEMA_ATTEMPTS):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    warnings.simplefilter("ignore", FutureWarning)
                    return optuna.storages.RDBStorage(
                        with_installed_driver(url),
                        engine_kwargs=engine,
                        heartbeat_interval=heartbeat_interval,
                        grace_period=grace_period,
                        heartbeat_stale_trial_callback=retry_callback(),
                    )
            except (exc.IntegrityError, exc.ProgrammingError):
                # Workers started at once on an empty database race to create Optuna's tables
                # and types; the loser finds them made by the winner on its next try.
                if attempt == SCHEMA_ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
    except ImportError as error:
        raise PipelineError(
            f"storage {shown(url)} needs a database driver that is not installed "
            f"({error.__cause__ or error}); for PostgreSQL: pip install "
            "'cooler-pipeline[postgres]' (psycopg), for MySQL: pip install pymysql."
        ) from error
    except exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise PipelineError(f"storage {shown(url)} cannot be reached: {reason}.") from error


def with_installed_driver(url: str) -> str:
    """``postgresql://`` means psycopg2 to SQLAlchemy; use psycopg (3), the ``postgres`` extra's
    driver, when psycopg2 is not installed. Other URLs are returned as given."""
    import importlib.util

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername != "postgresql" or importlib.util.find_spec("psycopg2") is not None:
        return url
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def open_study(storage: Any, name: str, space: Space) -> Any:
    """Create the study, or continue it; refuse one that optimizes in the other direction."""
    import optuna

    study = optuna.create_study(
        storage=storage, study_name=name, direction=space.direction, load_if_exists=True
    )
    actual = study.direction.name.lower()
    if actual != space.direction:
        raise PipelineError(
            f"study {name!r} already exists and {actual}s its objective, but the "
            f"space says {space.direction}; pass --study NEW_NAME."
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names([space.metric])  # the objective's name in optuna-dashboard
    return study


def prepare_once(folder: Path, params: Mapping[str, Any], registry) -> Path:
    """Run the prepare stage into ``folder/prepared`` unless the same seed and data are there."""
    from pipeline.paths import Paths
    from pipeline.stages import run_stage
    from pipeline.stages.context import RunContext

    prepared = folder / "prepared"
    wanted = {"seed": params["seed"], "data": params["data"]}
    marker = prepared / "sweep.json"
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return prepared
    # Written beside and renamed into place, so a worker never reads a half-written split.
    staging = folder / f"prepared.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    run_stage(
        "prepare",
        RunContext(
            params=dict(params), registry=registry, paths=Paths(root=folder, prepared_dir=staging)
        ),
    )
    (staging / "sweep.json").write_text(json.dumps(wanted, indent=2) + "\n")
    shutil.rmtree(prepared, ignore_errors=True)
    staging.rename(prepared)
    return prepared


def existing_study(storage: Any, name: str) -> Any | None:
    """The study called ``name`` if the storage holds it."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def check_base(study, space: Space, base: Mapping[str, Any]) -> None:
    """Refuse to continue a study whose trials started from other params than params.yaml's."""
    from pipeline.tracking.runs import flatten

    stripped = json.loads(json.dumps(base, default=str))  # as the storage gives it back
    for key in space.touched():
        put(stripped, key, MISSING)
    recorded = study.user_attrs.get(BASE_ATTR)
    if recorded is None:
        study.set_user_attr(BASE_ATTR, stripped)
    elif recorded != stripped:
        old, new = flatten(recorded), flatten(stripped)
        key = next(
            k for k in sorted(set(old) | set(new)) if old.get(k, "absent") != new.get(k, "absent")
        )
        raise PipelineError(
            f"params.yaml changed since study {study.study_name!r} began ({key}: "
            f"{old.get(key, 'absent')!r} → {new.get(key, 'absent')!r}); restore "
            "it, or start a new study with --study NAME."
        )


def intent(study, n_trials: int, given: bool) -> str:
    """One line saying what the sweep will do: ``n_trials`` is a total, not a number to add."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    counted = counted_states()
    held = sum(s in counted for s in states)
    asked = f"--n-trials {n_trials}" if given else f"the space's n_trials ({n_trials})"
    line = f"study {study.study_name} holds {held} trial(s); {asked} asks for {n_trials} in total"
    queued = states.count(TrialState.WAITING)
    if held - queued >= n_trials:
        if queued:
            return f"{line}, so only the {queued} queued trial(s) will run."
        return f"{line}, so no trial will run; pass a larger total to add trials."
    return f"{line}, so {n_trials - held + queued} more will run."


def plan(study, n_trials: int) -> str:
    """Before a worker starts: run a trial, wait for running ones (one may be dead), or stop."""
    import optuna
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # queues dead workers' trials again
    states = [t.state for t in study.get_trials(deepcopy=False)]
    counted = counted_states()
    if TrialState.WAITING in states or sum(s in counted for s in states) < n_trials:
        return RUN
    return WAIT if TrialState.RUNNING in states else DONE


class Claim:
    """Held by a local worker from counting the study's trials until its own trial exists, so
    workers started together cannot all see the same free slot. Workers on other machines share
    only the database; a trial of theirs created for a slot already taken gives way at its start
    (:func:`pipeline.sweep.objective.is_surplus`).
    """

    def __init__(self, lock):
        self.lock, self.held = lock, False

    def __enter__(self) -> Claim:
        # A worker killed while holding the lock never releases it; the others then go on
        # unlocked rather than wait forever.
        self.held = self.lock.acquire(timeout=CLAIM_TIMEOUT_S)
        return self

    def release(self) -> None:
        """Let the next local worker count (the objective calls this once its trial runs)."""
        if self.held:
            self.held = False
            self.lock.release()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def run_worker(sweep: Sweep, index: int, lock) -> int:
    """Run trials until the study is full or the deadline passes; 0 when done, 130 interrupted.

    The study's count is checked before every trial (``plan``), so a worker never starts a trial
    the study has no room for; Optuna's ``MaxTrialsCallback`` checks only after one.
    """
    import optuna

    from pipeline.sweep.objective import (
        Objective,
        QuietSurplus,
        SurplusTrial,
        TrialInterrupted,
        quiet,
    )

    # Trials train in their own folders, but their MLflow runs belong in the project's store.
    os.environ["MLFLOW_TRACKING_URI"] = sweep.tracking_uri
    if sweep.workers > 1 and "OMP_NUM_THREADS" not in os.environ:
        import torch  # K workers each using every core run slower than one

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // sweep.workers))
    quiet()
    space = sweep.space
    storage = open_storage(sweep.storage_url, space.heartbeat_interval, space.grace_period)
    sampler, pruner = sampler_and_pruner(space, index, sweep.trials_before)
    study = optuna.load_study(
        study_name=sweep.study, storage=storage, sampler=sampler, pruner=pruner
    )
    objective = Objective(sweep)
    logging.getLogger("optuna.study._optimize").addFilter(QuietSurplus())
    wait = FIRST_WAIT_S
    while sweep.deadline is None or time.time() < sweep.deadline:
        with Claim(lock) as claim:
            step = plan(study, sweep.n_trials)
            if step == RUN:
                wait = FIRST_WAIT_S
                objective.on_start = claim.release
                left = None if sweep.deadline is None else sweep.deadline - time.time()
                try:
                    study.optimize(objective, n_trials=1, timeout=left, gc_after_trial=False)
                except TrialInterrupted:
                    return INTERRUPTED
                except SurplusTrial:
                    pass  # another machine took the last slot; plan() now waits or ends
        if step == DONE:
            break
        if step == WAIT:  # for the last running trials to end, or to be found dead and queued
            # The first looks come soon, so the sweep ends right after its last trial; later ones
            # slow down to one a heartbeat interval, the pace at which a dead trial shows.
            time.sleep(wait)
            wait = min(2 * wait, space.heartbeat_interval)
    return 0


def worker_process(index: int, inbox, lock) -> None:
    """A local worker process: exit 0 done, 130 interrupted, 2 user error, 1 crash.

    It starts while the command still checks the space, imports what a trial needs meanwhile,
    then receives the sweep and works like any other worker.
    """
    signal.signal(signal.SIGTERM, _terminate)
    try:
        from pipeline._runtime.gc_pause import import_all

        import_all(WORKER_IMPORTS)
        code = run_worker(inbox.recv(), index, lock)
    except PipelineError as error:
        print(f"error: worker {index}: {error}", file=sys.stderr)
        code = 2
    except (KeyboardInterrupt, EOFError):  # EOFError: the command ended before sending the sweep
        code = INTERRUPTED
    sys.exit(code)


class Workers:
    """The local worker processes after the first (which is this process)."""

    def __init__(self, count: int):
        import multiprocessing

        # Spawned, not forked: this process's torch thread pools may already be running.
        context = multiprocessing.get_context("spawn")
        self.lock = context.Lock()  # see Claim
        self.children, self.inboxes = [], []
        for index in range(1, count):
            inbox, outbox = context.Pipe(duplex=False)
            child = context.Process(
                target=worker_process,
                args=(index, inbox, self.lock),
                name=f"sweep-worker-{index}",
            )
            child.start()
            self.children.append(child)
            self.inboxes.append(outbox)

    def run(self, sweep: Sweep) -> list[int]:
        """Run worker 0 here and the children on ``sweep``; return every worker's exit code."""
        for outbox in self.inboxes:
            outbox.send(sweep)
        try:
            own = run_worker(sweep, 0, self.lock)
        except (KeyboardInterrupt, SystemExit):
            own = INTERRUPTED
        except BaseException:
            self.stop()
            raise
        if own == INTERRUPTED:  # Ctrl-C reached the children too; a terminated sweep passes it on
            self.stop()
        for child in self.children:
            child.join()
        return [own, *(child.exitcode for child in self.children)]

    def stop(self) -> None:
        """Ask each child to end its trial as interrupted (SIGTERM), and wait for it."""
        for child in self.children:
            if child.is_alive():
                child.terminate()
        for child in self.children:
            child.join()


def _terminate(signum, frame):  # a terminated worker ends its trial like Ctrl-C: queued again
    raise SystemExit(128 + signum)
