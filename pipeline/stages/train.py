"""Stage 2: train the family's model with its tricks on Lightning, resuming from ``last.ckpt``.

:func:`run` builds the module and its Trainer, then hands them to three steps with one job each:
:func:`open_run` (the MLflow run and where training resumes), :func:`fit` and :func:`record`
(weights, metrics, history). The run is closed, FINISHED or FAILED, as the ``with`` around the
last two ends.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import PipelineError
from pipeline.stages.context import RunContext

if TYPE_CHECKING:
    import lightning.pytorch as pl

    from pipeline.data.prepared import PreparedData
    from pipeline.tracking.mlflow_logger import EpochEnds
    from pipeline.tracking.runs import Tracker
    from pipeline.training.builder import Training
    from pipeline.training.callbacks.best_weights import BestWeights
    from pipeline.training.callbacks.history import EpochHistory


@dataclass(frozen=True)
class OpenRun:
    """Where this process's fit starts and what it records to."""

    tracker: Tracker | None  # None on the ranks of a distributed job that only train
    run_id: str | None
    checkpoint: Path | None  # the last.ckpt to resume from, or None to start over


def run(ctx: RunContext) -> dict[str, float]:
    """Fit the model, write ``models/model.pt`` and the train metrics; return those metrics."""
    import lightning.pytorch as pl

    from pipeline.data.prepared import PreparedData
    from pipeline.tracking import runs as tracking
    from pipeline.tracking.mlflow_logger import EpochEnds
    from pipeline.training import resume
    from pipeline.training.builder import build_training
    from pipeline.training.callbacks.checkpoint import LastCheckpoint
    from pipeline.training.callbacks.divergence import DivergenceGuard
    from pipeline.training.callbacks.history import EpochHistory
    from pipeline.training.callbacks.long_run import LongRunNote

    params, paths = ctx.params, ctx.paths
    if tracking.is_rank_zero():  # a quick refusal before the model and data load
        tracking.check_reachable(tracking.tracking_uri(paths.root))
    family = ctx.registry.family(params["model"]["family"]).load()
    data = PreparedData.load(paths.prepared)

    pl.seed_everything(params["seed"], workers=True, verbose=False)
    module = family.build(params["model"], data.info)
    module.plots_dir = paths.plots  # where a trick's pictures go (capture writes plots/capture)
    (paths.plots / "capture").mkdir(parents=True, exist_ok=True)  # a DVC output, maybe empty
    # The checkpointed record of every epoch: the CSVs, and what a resumed run writes to MLflow.
    history = EpochHistory(paths.plots / "history.csv")
    best, selecting = selection_callbacks(params["selection"])
    callbacks = [
        # resumable state, every few seconds of training
        LastCheckpoint(paths.checkpoints, params["checkpoint"]["seconds"]),
        history,
        DivergenceGuard(params["optimizer"]["lr"]),  # a diverged run fails instead of passing
        epoch_ends := EpochEnds(),  # tells the MLflow logger which metrics close an epoch
        *selecting,  # early stopping and the best epoch's weights, when asked for
        LongRunNote(params["selection"]["monitor"]),  # one line when the epochs left take long
    ]
    # Built before a run is opened, so a trick that does not fit the model or a setting Lightning
    # refuses stops here, and another setting's checkpoints are left alone. The tricks' settings
    # were validated with the params, so they are not validated again.
    training = build_training(
        module,
        params["optimizer"],
        params["tricks"],
        ctx.registry,
        params["trainer"],
        callbacks,
        ctx.extra_callbacks,
        root_dir=str(paths.root / "lightning_logs"),
        validated=True,
    )
    opened = open_run(ctx, training)
    with opened.tracker.active(opened.run_id) if opened.tracker else contextlib.nullcontext():
        fit(ctx, module, data, training.trainer, opened, epoch_ends)
        chosen = best.restore(module) if best else None  # the best epoch's weights, if asked for
        if opened.tracker is None:  # non-zero ranks of a distributed job only train
            return {}
        check_store_kept(ctx, training.trainer, opened)
        refuse_chance_level(ctx, family, module, data)
        metrics = record(ctx, module, training.trainer, opened, history, chosen)
    # Only once the run is closed: a store failing to close it keeps the final checkpoint, from
    # which the next run records without training again.
    resume.finish(paths.checkpoints)
    return metrics


def selection_callbacks(selection: dict) -> tuple[BestWeights | None, list[pl.Callback]]:
    """The callbacks of the ``selection:`` section: Lightning's early stopping when
    ``patience`` > 0, and the keeper of the best epoch's weights (also returned) when ``best``."""
    from pipeline.training.callbacks.best_weights import BestWeights
    from pipeline.training.callbacks.early_stopping import StopEarly

    monitor, mode = selection["monitor"], selection["mode"]
    best = BestWeights(monitor, mode) if selection["best"] else None
    stop = [StopEarly(monitor, mode, selection["patience"])] if selection["patience"] else []
    return best, [*stop, *([best] if best else [])]


def open_run(ctx: RunContext, training: Training) -> OpenRun:
    """The MLflow run and checkpoint to continue, or a new run recorded with the checkpoints."""
    from pipeline.tracking import runs as tracking
    from pipeline.training import resume

    params, paths = ctx.params, ctx.paths
    # The Trainer knows the global rank, also on a node its launcher did not start (NODE_RANK > 0
    # of a job started by hand on each machine), where the environment alone looks like rank 0.
    if not training.trainer.is_global_zero:
        return OpenRun(None, None, _last(paths))
    tracker = tracking.Tracker(paths.root)
    try:
        point = resume.find(paths.checkpoints, params)
    except PipelineError:  # the killed run whose checkpoint cannot be resumed is over
        tracker.close_dead_runs(params["tracking"]["experiment"])
        raise
    if point.run_id is not None and tracker.has_run(point.run_id):
        return OpenRun(tracker, point.run_id, point.checkpoint)
    # A new run; a checkpoint whose run this store lacks still resumes, and its recorded epochs
    # are written to the new run (EpochHistory's back-fill).
    names = ",".join(t.spec.name for t in training.tricks) or "none"
    tags = {"pipeline.tricks": names, **ctx.run_tags}
    name = tags.get(tracking.RUN_NAME_TAG) or tracking.default_run_name(params["model"]["family"])
    run_id = tracker.create_run(
        params["tracking"]["experiment"],
        {},
        run_name=name,
        parent_run_id=ctx.parent_run_id,
        tags=tags,
    )
    try:
        # first, so an interrupted start resumes this run
        resume.record(paths.checkpoints, params, run_id)
        tracker.log_params(run_id, params)
        tracker.log_dict(run_id, params, "params.yaml")
        if ctx.on_run_created:
            ctx.on_run_created(run_id)
    except BaseException:  # a run no checkpoint names would stay RUNNING for ever
        with contextlib.suppress(Exception):  # the store may be what failed
            tracker.set_status(run_id, "FAILED")
        raise
    return OpenRun(tracker, run_id, point.checkpoint)


def fit(
    ctx: RunContext,
    module: pl.LightningModule,
    data: PreparedData,
    trainer: pl.Trainer,
    opened: OpenRun,
    epoch_ends: EpochEnds,
) -> None:
    """Train ``module`` on the prepared data, from ``opened``'s checkpoint, logging to its run."""
    from pipeline.data.datamodule import PreparedDataModule
    from pipeline.tracking.mlflow_logger import CheckpointBatchedMLFlowLogger

    params = ctx.params
    datamodule = PreparedDataModule(
        data, params["optimizer"]["batch_size"], params["seed"], params["data"]["num_workers"]
    )
    if opened.tracker is not None:  # the run to log to is known only now, after the Trainer
        trainer.logger = CheckpointBatchedMLFlowLogger(
            epoch_ends,
            experiment_name=params["tracking"]["experiment"],
            run_id=opened.run_id,
            tracking_uri=opened.tracker.uri,
        )
    trainer.fit(module, datamodule=datamodule, ckpt_path=opened.checkpoint, weights_only=True)


def check_store_kept(ctx: RunContext, trainer: pl.Trainer, opened: OpenRun) -> None:
    """Refuse, in one line, to record a training whose tracking store stopped answering during
    the fit; its last checkpoint holds the trained model, which the next run records."""
    lost = getattr(trainer.logger, "lost", None)
    if lost is None:
        return
    reason = " ".join(str(lost).split())[:200] or type(lost).__name__
    raise PipelineError(
        f"the tracking store {opened.tracker.uri} stopped answering during training ({reason}); "
        f"the trained model is kept in {ctx.paths.checkpoints / 'last.ckpt'}: once the store "
        "answers again, rerun (`dvc repro`) to record it without training again."
    )


class ModelAtChance(PipelineError):
    """A trained model that scores no better than a model which learned nothing."""


def refuse_chance_level(ctx: RunContext, family, module, data: PreparedData) -> None:
    """Refuse, in one line, a model at or below its family's chance level on the validation split
    (unless ``checks.chance_level`` is false); its last checkpoint stays, so turning the check off
    records it without training again."""
    if not ctx.params["checks"]["chance_level"]:
        return
    chance = family.chance_level(module.eval(), data)
    if chance is None or not chance.at_chance:
        return
    raise ModelAtChance(
        f"the trained model scores no better than chance ({chance.metric} {chance.score:.4g}, "
        f"against {chance.level:.4g} for a model that learned nothing), so it does not replace "
        "the last good model; try a lower optimizer.lr or more epochs, or set "
        "checks.chance_level=false to keep it."
    )


def record(
    ctx: RunContext,
    module: pl.LightningModule,
    trainer: pl.Trainer,
    opened: OpenRun,
    history: EpochHistory,
    chosen: int | None = None,
) -> dict[str, float]:
    """Write the weights, train metrics and run record, and log them and the history to rank
    zero's run; return the metrics. With ``chosen``, the epoch whose weights ``module`` holds
    (``selection.best``), the metrics are that epoch's, and ``best_epoch`` names it."""
    from pipeline.stages.outputs import save_weights, write_json

    params, paths, tracker, run_id = ctx.params, ctx.paths, opened.tracker, opened.run_id
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if not k.endswith("_step")}
    # A fit resumed from the last epoch's checkpoint (its recording had failed) trains nothing and
    # logs nothing: its metrics are the last recorded epoch's.
    metrics = metrics or history.last
    if chosen is not None:
        metrics = dict(history.logged.get(chosen, metrics), best_epoch=float(chosen))
    # Lightning counts the epoch an early stop ended in as unfinished when a fit resumes from its
    # checkpoint and trains nothing; the history holds every epoch trained.
    epochs = max(trainer.current_epoch, len(history.logged))
    metrics.update(epochs=float(epochs), optimizer_steps=float(trainer.global_step))
    save_weights(paths.model, module, params["model"]["family"])
    write_json(paths.metrics / "train.json", metrics)
    write_json(paths.run_record, {"run_id": run_id, "tracking_uri": tracker.uri})
    # The epoch curves are in the run under their own names; only the fit's length is added.
    fit_length = ("epochs", "optimizer_steps", "best_epoch")
    tracker.log_metrics(run_id, {f"train.{k}": metrics[k] for k in fit_length if k in metrics})
    tracker.log_artifact(run_id, paths.plots / "history.csv", "plots")
    log_dataset(ctx, tracker, run_id)
    return metrics


def log_dataset(ctx: RunContext, tracker: Tracker, run_id: str) -> None:
    """Record the prepared data as the run's MLflow dataset input (context ``training``): the
    dataset's name, a digest (DVC's hash of data/prepared when dvc.lock describes it), the folder
    and the split sizes. Logging it again, as a resumed run does, adds nothing."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    from pipeline.data.digest import prepared_digest

    prepared = ctx.paths.prepared
    digest, origin = prepared_digest(ctx.paths.root, prepared)
    sizes_file = prepared / "sizes.json"
    sizes = json.loads(sizes_file.read_text()) if sizes_file.is_file() else {}
    dataset = Dataset(
        name=ctx.params["data"]["name"],
        digest=digest,
        source_type="local",
        source=json.dumps({"uri": shown_path(prepared, ctx.paths.root)}),
        profile=json.dumps({**sizes, "digest_from": origin}),
    )
    context = InputTag("mlflow.data.context", "training")
    tracker.client.log_inputs(run_id, datasets=[DatasetInput(dataset, [context])])


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to the project when inside it (a sweep trial's or a comparison run's
    shared prepared data lies outside the run's own folder), else absolute."""
    path, root = path.resolve(), root.resolve()
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()


def _last(paths) -> Path | None:
    from pipeline.training.resume import LAST

    last = paths.checkpoints / LAST
    return last if last.is_file() else None
