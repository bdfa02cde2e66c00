"""The four stages dvc.yaml runs, each a thin function of a :class:`pipeline.context.RunContext`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:  # `pipeline --help` lists the stages without reading params or plugins
    from pipeline.context import RunContext

STAGES = ("check", "prepare", "train", "evaluate", "export")


def run_stage(name: str, ctx: RunContext) -> Mapping[str, float]:
    """Run one stage with the lifecycle hooks around it; return the metrics it recorded."""
    from pipeline.console import quiet_known_noise

    quiet_known_noise(ctx.paths.checkpoints)
    module = importlib.import_module(f"pipeline.stages.{name}")
    ctx.hook.pipeline_before_stage(stage=name, params=ctx.params)
    try:
        metrics: Any = module.run(ctx) or {}
    except BaseException as error:
        ctx.hook.pipeline_on_stage_error(stage=name, params=ctx.params, error=error)
        raise
    ctx.hook.pipeline_after_stage(stage=name, params=ctx.params, metrics=metrics)
    return metrics
