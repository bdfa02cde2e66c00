"""Checks a sweep makes before its first trial: the space fits params.yaml, and the objective exists."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Mapping

from pipeline.errors import PipelineError
from pipeline.registry import Registry
from pipeline.sweep.space import Space

FROZEN = {
    "seed": "it also fixes the data split, which a sweep prepares once for all trials",
    "data": "a sweep prepares the data once and shares it between trials",
    "tracking": "every trial is recorded as a child of the sweep's run in one MLflow experiment",
}


def check_keys(space: Space) -> None:
    """Refuse keys a sweep cannot vary."""
    for key in space.touched():
        reason = FROZEN.get(key.split(".")[0])
        if reason:
            raise PipelineError(f"{space.source}: {key} cannot be searched or fixed by a sweep, because {reason}; set it in params.yaml.")


def check_params(space: Space, base: Mapping[str, Any], registry: Registry) -> list[dict[str, Any]]:
    """Validate params at every corner of the space (each bound, each choice); return them, validated."""
    from pipeline.config import validate

    checked = []
    for raw in space.samples(base):
        try:
            params = validate(raw, registry)
        except PipelineError as error:
            raise PipelineError(f"{space.source} does not fit params.yaml: {error}") from error
        checked.append(params)
    return checked


def check_metrics(space: Space, corners: list[Mapping[str, Any]], registry: Registry, prepared: Path) -> None:
    """Ask each family the space can pick which metrics it produces, so a misspelled objective fails first.

    An untrained model is scored by the family's own ``evaluate`` (the code the evaluate stage runs)
    and validated for one batch by Lightning (the metrics the pruner watches). Names declared by
    hand would drift from what the code logs; this cannot.
    """
    families = {params["model"]["family"]: params for params in reversed(corners)}  # first corner of each family
    for params in families.values():
        _check_family(space, params, registry, prepared)


def _check_family(space: Space, params: Mapping[str, Any], registry: Registry, prepared: Path) -> None:
    import lightning.pytorch as pl

    from pipeline.data import PreparedData
    from pipeline.datamodule import ArrayDataModule

    family_name = params["model"]["family"]
    family = registry.family(family_name).load()
    data = PreparedData.load(prepared)
    module = family.build(params["model"], data.info)
    module.eval()
    with tempfile.TemporaryDirectory() as out:
        produced = sorted(family.evaluate(module, data, Path(out)))
    if space.metric not in produced:
        raise PipelineError(f"{space.source}: objective.metric {space.metric!r} is not produced by the evaluate stage of family {family_name!r}; it produces: {', '.join(produced)}.")
    if space.monitor is None:
        return
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=1)
    datamodule = ArrayDataModule(data, params["optimizer"]["batch_size"], params["seed"])
    trainer.validate(module, datamodule=datamodule, verbose=False)
    logged = sorted(k for k in trainer.callback_metrics if not k.endswith("_step"))
    if space.monitor not in logged:
        raise PipelineError(f"{space.source}: pruner.monitor {space.monitor!r} is not logged by the validation step of family {family_name!r}; it logs: {', '.join(logged) or 'nothing'}.")
