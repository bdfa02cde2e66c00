"""``pipeline sweep``: check everything, prepare the data once, run the workers, then report.

Every worker, local or on another machine, runs :func:`run_worker` on the same storage. Optuna's
``MaxTrialsCallback`` ends a worker once the study holds ``n_trials`` (running and queued ones
included); workers finishing trials at one instant may each start one more (at most K - 1 extra
for K workers). The heartbeat storage's ``RetryHeartbeatStaleTrialCallback`` retries dead trials.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import optuna
from optuna.trial import TrialState
from sqlalchemy import exc
from sqlalchemy.engine import make_url

from pipeline.errors import PipelineError
from pipeline.params.validate import read_yaml, validate
from pipeline.paths import Paths
from pipeline.plugin.registry import Registry, create_plugin_manager
from pipeline.stages import run_stage
from pipeline.stages.context import RunContext
from pipeline.sweep import objective, report
from pipeline.sweep.objective import Sweep, quiet
from pipeline.sweep.space import MISSING, Space, load_space, put, sampler_and_pruner
from pipeline.sweep.workers import INTERRUPTED, Workers
from pipeline.tracking import runs as tracking

RUN, WAIT, DONE = "run", "wait", "done"
BASE_ATTR = "sweep.base_params"  # study user attr: params.yaml minus the space's keys
SELECT_ATTR = "sweep.select"  # study user attr: the validation metric its trials are ranked on
N_TRIALS_ATTR = "sweep.n_trials"  # study user attr: the total the last --n-trials asked for
# The trial states that fill the study: all but FAIL, whose retry (or successor) counts.
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)


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
    """Run (or resume) the sweep: every check that can fail, cheapest first; then the workers.
    With ``apply_best``, only write the study's best trial into params.yaml."""
    if request.workers < 1 or (request.n_trials is not None and request.n_trials < 1):
        raise PipelineError("--workers and --n-trials must be positive integers.")
    if request.apply_best:
        return apply_study_best(request, root)
    space = load_space(request.space, root)
    quiet()
    sampler_and_pruner(space)
    workers = Workers(request.workers)  # they import a trial's libraries while the checks run
    try:
        registry, base = Registry(create_plugin_manager()), read_yaml(root / "params.yaml")
        (root / "optuna").mkdir(exist_ok=True)  # the study's folders, and the default storage
        url = request.storage or f"sqlite:///{root.resolve() / 'optuna' / 'sweeps.db'}"
        storage = open_storage(url, *space.heartbeat)
        corners = check_params(space, base, registry)
        tracking.check_reachable(tracking.tracking_uri(root))
        name = request.study or space.name
        folder = root / "optuna" / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        check_metrics(space, corners, registry, prepare_once(folder, corners[0], registry))
        print(selection_note(space), file=sys.stderr)
        study = open_study(storage, name, space, base)  # created only once everything checked out
        tracker = tracking.Tracker(root)
        experiment = corners[0]["tracking"]["experiment"]
        parent = report.open_parent(tracker, study, space, experiment, shown(url))
    except BaseException:
        workers.stop()
        raise
    n_trials, source = total(study, space, request.n_trials)
    print(intent(study, n_trials, source), file=sys.stderr)
    where = f"storage {shown(url)}, MLflow parent run {parent}"
    print(f"sweep {name}: {request.workers} worker(s), {where}", file=sys.stderr)
    deadline = time.time() + request.timeout if request.timeout else None
    shared = (root, folder, space, url, name, base, parent, n_trials, request.workers)  # in order
    sweep = Sweep(*shared, trials_before=len(study.trials), deadline=deadline)
    try:
        codes = workers.run(run_worker, sweep)
    except BaseException:
        tracker.set_status(parent, "FAILED")
        raise
    done = plan(study, n_trials) == DONE
    return report.finish(sweep, study, tracker, codes, done)


def apply_study_best(request: Request, root: Path) -> int:
    """Write the best complete trial of the study into params.yaml; run no trial."""
    if request.n_trials is not None or request.timeout is not None:
        raise PipelineError(
            "--apply-best runs no trial, so --n-trials and --timeout mean nothing with it; run "
            f"`pipeline sweep {request.space} --n-trials N` first, then --apply-best alone."
        )
    space = load_space(request.space, root)
    quiet()
    url = request.storage or f"sqlite:///{root.resolve() / 'optuna' / 'sweeps.db'}"
    storage = open_storage(url, *space.heartbeat)
    name = request.study or space.name
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise PipelineError(
            f"storage {shown(url)} holds no study {name!r}, so there is no best trial to apply; "
            f"run `pipeline sweep {request.space}` first (or name the study with --study)."
        ) from None
    registry = Registry(create_plugin_manager())
    n_trials, _ = total(study, space, None)
    held = sum(t.state in COUNTED for t in study.get_trials(deepcopy=False))
    if held < n_trials:
        note = f"study {name} holds {held} of its {n_trials} trials; applying the best so far "
        print(note + f"(`pipeline sweep {request.space}` runs the rest).", file=sys.stderr)
    report.apply_and_print(study, space, root / "params.yaml", registry)
    return 0


def total(study, space: Space, given: int | None) -> tuple[int, str]:
    """The trials the study should hold and where that number comes from: ``--n-trials`` (then
    stored in the study), else the total stored by an earlier command, else the space's."""
    if given is not None:
        study.set_user_attr(N_TRIALS_ATTR, given)
        return given, f"--n-trials {given}"
    stored = study.user_attrs.get(N_TRIALS_ATTR)
    if stored is not None:
        return int(stored), f"the total an earlier --n-trials stored ({stored})"
    return space.n_trials, f"the space's n_trials ({space.n_trials})"


def check_params(space: Space, base: Mapping[str, Any], registry) -> list[dict[str, Any]]:
    """Validate params at every corner of the space; return them, validated."""
    try:
        return [validate(raw, registry) for raw in space.corners(base)]
    except PipelineError as error:
        raise PipelineError(f"{space.source} does not fit params.yaml: {error}") from error


def check_metrics(space: Space, corners: list[Mapping[str, Any]], registry, prepared: Path) -> None:
    """Refuse a test metric, selection metric or monitor that a family the space can pick does
    not produce."""
    from pipeline.data.prepared import PreparedData

    # An untrained model is scored by the family's own evaluate and validated for one batch by
    # Lightning: names declared by hand would drift from what the code logs; these cannot.
    data = PreparedData.load(prepared)
    for family_name, params in {p["model"]["family"]: p for p in reversed(corners)}.items():
        produced, logged = produced_metrics(registry, params, data)
        if space.metric not in produced:
            where = f"{space.source}: objective.metric {space.metric!r} is not produced by the"
            stage = f"evaluate stage of family {family_name!r}"
            raise PipelineError(f"{where} {stage}; it produces: {', '.join(produced)}.")
        stage = f"validation step of family {family_name!r}; it logs: {', '.join(logged)}"
        if space.select not in logged:
            given = (
                f"objective.select {space.select!r}"
                if not space.select_derived
                else f"{space.select!r}, the validation counterpart of objective.metric "
                f"{space.metric!r},"
            )
            name = "name the one to select trials on with objective.select"
            raise PipelineError(f"{space.source}: {given} is not logged by the {stage}; {name}.")
        if space.monitor is not None and space.monitor not in logged:
            where = f"{space.source}: pruner.monitor {space.monitor!r} is not logged by the"
            raise PipelineError(f"{where} {stage}.")


def produced_metrics(registry, params: Mapping[str, Any], data) -> tuple[list[str], list[str]]:
    """The test metrics the family's evaluate returns and the metrics its validation logs."""
    from pipeline.data.datamodule import PreparedDataModule
    from pipeline.training.builder import TEST_TRAINER
    from pipeline.training.trainer import build_trainer

    family = registry.family(params["model"]["family"]).load()
    module = family.build(params["model"], data.info).eval()
    with tempfile.TemporaryDirectory() as out:
        produced = sorted(family.evaluate(module, data, Path(out)))
    trainer = build_trainer({**TEST_TRAINER, "limit_val_batches": 1}, [], False, None)
    datamodule = PreparedDataModule(data, params["optimizer"]["batch_size"], params["seed"])
    trainer.validate(module, datamodule=datamodule, verbose=False)
    logged = sorted(k for k in trainer.callback_metrics if not k.endswith("_step"))
    return produced, logged


def selection_note(space: Space) -> str:
    """One line saying which split selects the best trial and which one only reports it."""
    how = f"trials are ranked on {space.select} (validation, {space.select_direction})"
    if space.select_derived:
        how += f", the validation counterpart of {space.metric}"
    return f"{how}; {space.metric} on the test split is reported, never used to rank."


def shown(url: str) -> str:
    """The URL with any password masked, for messages and MLflow."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all; nothing secret to hide
        return url


def open_storage(url: str, heartbeat_interval: int, grace_period: int) -> Any:
    """Optuna's RDB storage (the one that records heartbeats), retrying dead trials."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        examples = "use e.g. sqlite:///optuna/sweeps.db or postgresql://user@host/db"
        raise PipelineError(f"--storage {url!r} is not a database URL; {examples}.") from error
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg2") is None:
        parsed = parsed.set(drivername="postgresql+psycopg")  # the ``postgres`` extra's driver
    # SQLite serializes writers; a generous lock timeout lets local workers share one file.
    sqlite = parsed.get_backend_name() == "sqlite"
    engine = {"connect_args": {"timeout": 60}} if sqlite else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings(action="ignore"):  # heartbeats are experimental
            return optuna.storages.RDBStorage(
                parsed.render_as_string(hide_password=False),
                engine_kwargs=engine,
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=objective.retry_callback(),
            )
    except ImportError as error:
        missing = f"needs a database driver that is not installed ({error.__cause__ or error})"
        hint = "pip install 'cooler-pipeline[postgres]' (psycopg), for MySQL: pip install pymysql"
        raise PipelineError(f"storage {shown(url)} {missing}; for PostgreSQL: {hint}.") from error
    except exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise PipelineError(f"storage {shown(url)} cannot be reached: {reason}.") from error


def open_study(storage: Any, name: str, space: Space, base: Mapping[str, Any]) -> Any:
    """Create the study, or continue one with the same direction and the same other params."""
    direction = space.select_direction
    study = optuna.create_study(
        storage=storage, study_name=name, direction=direction, load_if_exists=True
    )
    actual = study.direction.name.lower()
    if actual != direction:
        clash = f"already exists and {actual}s its objective, but the space says {direction}"
        raise PipelineError(f"study {name!r} {clash}; pass --study NEW_NAME.")
    ranked = study.user_attrs.get(SELECT_ATTR)
    if study.trials and ranked != space.select:  # values on another metric or split
        before = (
            f"ranked its trials on {ranked}" if ranked else "ranked its trials on a test metric"
        )
        raise PipelineError(
            f"study {name!r} {before}, but the space selects on {space.select}; its values "
            "would not compare, so pass --study NEW_NAME."
        )
    study.set_user_attr(SELECT_ATTR, space.select)
    # Trials compare only if params.yaml's keys the space does not touch stay as they began.
    stripped = json.loads(json.dumps(base, default=str))  # as the storage gives it back
    for key in space.touched():
        put(stripped, key, MISSING)
    old = tracking.flatten(study.user_attrs.get(BASE_ATTR, stripped))
    new = tracking.flatten(stripped)
    for key in sorted({*old, *new}):
        if old.get(key, "absent") != new.get(key, "absent"):
            change = f"since study {name!r} began ({key}: {old.get(key, 'absent')!r} → "
            change += f"{new.get(key, 'absent')!r}); restore it, or start a new study"
            raise PipelineError(f"params.yaml changed {change} with --study NAME.")
    study.set_user_attr(BASE_ATTR, stripped)
    study.set_metric_names([space.select])  # the objective's name in optuna-dashboard
    return study


def prepare_once(folder: Path, params: Mapping[str, Any], registry) -> Path:
    """Run the prepare stage into ``folder/prepared`` unless the same seed and data are there."""
    prepared, wanted = folder / "prepared", {"seed": params["seed"], "data": params["data"]}
    marker = prepared / "sweep.json"
    if marker.is_file() and json.loads(marker.read_text()) == wanted:
        return prepared
    shutil.rmtree(prepared, ignore_errors=True)  # the marker comes last: a half-made split has none
    run_stage("prepare", RunContext(dict(params), registry, Paths(folder, prepared_dir=prepared)))
    marker.write_text(json.dumps(wanted, indent=2) + "\n")
    return prepared


def intent(study, n_trials: int, asked: str) -> str:
    """One line saying what the sweep will do: ``n_trials`` is a total, not a number to add;
    ``asked`` says where it comes from."""
    states = [t.state for t in study.get_trials(deepcopy=False)]
    held, queued = sum(s in COUNTED for s in states), states.count(TrialState.WAITING)
    line = f"study {study.study_name} holds {held} trial(s); {asked} asks for {n_trials} in total"
    if held - queued < n_trials:
        return f"{line}, so {n_trials - held + queued} more will run."
    if queued:
        return f"{line}, so only the {queued} queued trial(s) will run."
    return f"{line}, so no trial will run; pass a larger total to add trials."


def plan(study, n_trials: int) -> str:
    """Before a worker starts: run trials, wait for running ones (one may be dead), or stop."""
    optuna.storages.fail_stale_trials(study)  # queues dead workers' trials again
    states = [t.state for t in study.get_trials(deepcopy=False)]
    if TrialState.WAITING in states or sum(s in COUNTED for s in states) < n_trials:
        return RUN
    return WAIT if TrialState.RUNNING in states else DONE


def run_worker(sweep: Sweep, index: int) -> int:
    """Run trials until the study is full or the deadline passes; 0 when done, 130 interrupted."""
    objective.start_worker(sweep.root, sweep.workers)
    storage = open_storage(sweep.storage_url, *sweep.space.heartbeat)
    algorithms = sampler_and_pruner(sweep.space, index, sweep.trials_before)
    study = optuna.load_study(study_name=sweep.study, storage=storage, **algorithms)
    run_trial = objective.Objective(sweep)
    full = optuna.study.MaxTrialsCallback(sweep.n_trials, states=COUNTED)
    # The callback looks after each trial; plan() looks before the first, runs queued retries
    # in a full study, and waits while a running trial may still come back as a retry.
    while sweep.deadline is None or time.time() < sweep.deadline:
        step = plan(study, sweep.n_trials)
        if step == DONE:
            break
        if step == WAIT:
            time.sleep(1)
            continue
        left = None if sweep.deadline is None else sweep.deadline - time.time()
        try:
            study.optimize(run_trial, timeout=left, callbacks=[full], gc_after_trial=False)
        except KeyboardInterrupt:
            return INTERRUPTED
    return 0
