"""The four stages dvc.yaml runs, each a thin function of a
:class:`pipeline.stages.context.RunContext`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # `pipeline --help` lists the stages without reading params or plugins
    from pipeline.stages.context import RunContext

STAGES = ("check", "prepare", "train", "evaluate", "export")
# Stages that only score or export the trained model: run as commands, they build the family's
# module without Lightning (pipeline.training.module_base).
SCORING = ("evaluate", "export")
# The libraries a stage always uses, loaded before it runs with the collector paused
# (pipeline._runtime.gc_pause). MLflow loads the same way when a stage opens its store
# (tracking.Tracker),
# after the train stage's quick check that the store is reachable; TensorFlow only in export.
# The export stage loads its exporters itself, once it knows which formats the family writes.
LIBRARIES = {"train": ("torch", "lightning.pytorch"), **{stage: ("torch",) for stage in SCORING}}


def run_stage(name: str, ctx: RunContext) -> Mapping[str, float]:
    """Run one stage with the lifecycle hooks around it; return the metrics it recorded."""
    from pipeline._runtime.gc_pause import import_all
    from pipeline.stages.console import quiet_known_noise

    quiet_known_noise(ctx.paths.checkpoints)
    import_all(LIBRARIES.get(name, ()))
    module = importlib.import_module(f"pipeline.stages.{name}")
    ctx.hook.pipeline_before_stage(stage=name, params=ctx.params)
    try:
        metrics: Any = module.run(ctx) or {}
    except BaseException as error:
        ctx.hook.pipeline_on_stage_error(stage=name, params=ctx.params, error=error)
        raise
    ctx.hook.pipeline_after_stage(stage=name, params=ctx.params, metrics=metrics)
    return metrics
