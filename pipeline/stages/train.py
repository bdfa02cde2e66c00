"""Stage 2: train the family's model with its tricks on Lightning, resuming from ``last.ckpt``."""

from __future__ import annotations

import contextlib
from pathlib import Path

from pipeline.stages.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Fit the model, write ``models/model.pt`` and the train metrics; return those metrics."""
    import lightning.pytorch as pl

    from pipeline.data.datamodule import PreparedDataModule
    from pipeline.data.prepared import PreparedData
    from pipeline.errors import PipelineError
    from pipeline.stages.outputs import save_weights, write_json
    from pipeline.tracking import runs as tracking
    from pipeline.tracking.mlflow_logger import CheckpointBatchedMLFlowLogger, EpochEnds
    from pipeline.training import resume
    from pipeline.training.builder import build_training
    from pipeline.training.callbacks.checkpoint import LastCheckpoint
    from pipeline.training.callbacks.divergence import DivergenceGuard
    from pipeline.training.callbacks.history import EpochHistory

    params, paths = ctx.params, ctx.paths
    if tracking.is_rank_zero():  # a quick refusal before the model and data load
        tracking.check_reachable(tracking.tracking_uri(paths.root))
    family = ctx.registry.family(params["model"]["family"]).load()
    data = PreparedData.load(paths.prepared)

    pl.seed_everything(params["seed"], workers=True, verbose=False)
    module = family.build(params["model"], data.info)
    callbacks = [
        # resumable state, every few seconds of training
        LastCheckpoint(paths.checkpoints, params["trainer"]["checkpoint_seconds"]),
        # The checkpointed record of every epoch: the CSVs, and what a resumed run writes to MLflow.
        EpochHistory(paths.plots / "history.csv"),
        DivergenceGuard(params["optimizer"]["lr"]),  # a diverged run fails instead of passing
        epoch_ends := EpochEnds(),  # tells the MLflow logger which metrics close an epoch
    ]
    # Built before a run is opened, so a trick that does not fit the model or a setting Lightning
    # refuses stops here, and another setting's checkpoints are left alone.
    training = build_training(
        module,
        params["optimizer"],
        params["tricks"],
        ctx.registry,
        params["trainer"],
        callbacks,
        ctx.extra_callbacks,
        root_dir=str(paths.root / "lightning_logs"),
    )
    trainer = training.trainer
    # The Trainer knows the global rank, also on a node its launcher did not start (NODE_RANK > 0
    # of a job started by hand on each machine), where the environment alone looks like rank 0.
    rank_zero = trainer.is_global_zero
    tracker = tracking.Tracker(paths.root) if rank_zero else None
    if tracker is not None:
        try:
            point = resume.find(paths.checkpoints, params)
        except PipelineError:  # the killed run whose checkpoint cannot be resumed is over
            tracker.close_dead_runs(params["tracking"]["experiment"])
            raise
    else:
        point = resume.ResumePoint(_last(paths), None)
    run_id = point.run_id
    if tracker is not None and run_id is None:
        names = ",".join(t.spec.name for t in training.tricks) or "none"
        tags = {"pipeline.tricks": names, **ctx.run_tags}
        name = tags.get(tracking.RUN_NAME_TAG) or tracking.default_run_name(
            params["model"]["family"]
        )
        run_id = tracker.create_run(
            params["tracking"]["experiment"],
            {},
            run_name=name,
            parent_run_id=ctx.parent_run_id,
            tags=tags,
        )
        # first, so an interrupted start resumes this run
        resume.record(paths.checkpoints, params, run_id)
        tracker.log_params(run_id, params)
        tracker.log_dict(run_id, params, "params.yaml")
        if ctx.on_run_created:
            ctx.on_run_created(run_id)

    datamodule = PreparedDataModule(
        data, params["optimizer"]["batch_size"], params["seed"], params["data"]["num_workers"]
    )
    with tracker.active(run_id) if tracker else contextlib.nullcontext():
        if rank_zero:  # the run to log to is known only now, after the Trainer was built
            trainer.logger = CheckpointBatchedMLFlowLogger(
                epoch_ends,
                experiment_name=params["tracking"]["experiment"],
                run_id=run_id,
                tracking_uri=tracker.uri,
            )
        trainer.fit(module, datamodule=datamodule, ckpt_path=point.checkpoint, weights_only=True)
        if tracker is None:  # non-zero ranks of a distributed job only train
            return {}
        metrics = {
            k: float(v) for k, v in trainer.callback_metrics.items() if not k.endswith("_step")
        }
        metrics.update(
            epochs=float(trainer.current_epoch), optimizer_steps=float(trainer.global_step)
        )
        save_weights(paths.model, module, params["model"]["family"])
        write_json(paths.metrics / "train.json", metrics)
        write_json(paths.run_record, {"run_id": run_id, "tracking_uri": tracker.uri})
        tracker.log_metrics(run_id, {f"train.{k}": v for k, v in metrics.items()})
        tracker.log_artifact(run_id, paths.plots / "history.csv", "plots")
        resume.finish(paths.checkpoints)
    return metrics


def _last(paths) -> Path | None:
    from pipeline.training.resume import LAST

    last = paths.checkpoints / LAST
    return last if last.is_file() else None
