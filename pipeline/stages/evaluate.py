"""Stage 3: score the trained model on the test split with the family's own metrics and plots."""

from __future__ import annotations

from pipeline.stages.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``metrics/evaluate.json`` and the family's plots; add both to the pipeline's MLflow
    run."""
    from pipeline.stages.outputs import load_trained, move_text_samples, read_run_id, write_json
    from pipeline.stages.still_working import still_working
    from pipeline.tracking import runs as tracking

    run_id = read_run_id(ctx.paths.run_record)
    tracker = tracking.Tracker(ctx.paths.root)
    with tracker.active(run_id, "evaluate"):
        family, module, data = load_trained(ctx)
        plots = ctx.paths.plots / "evaluate"
        plots.mkdir(parents=True, exist_ok=True)
        with still_working("evaluate"):
            scored = family.evaluate(module, data, plots)
        metrics = {k: float(v) for k, v in scored.items()}
        samples = move_text_samples(plots, ctx.paths.samples)
        write_json(ctx.paths.metrics / "evaluate.json", metrics)
        tracker.log_metrics(run_id, {f"test.{k}": v for k, v in metrics.items()})
        tracker.log_artifact(run_id, plots, "plots")
        if samples:
            tracker.log_artifact(run_id, ctx.paths.samples, "samples")
    return metrics
