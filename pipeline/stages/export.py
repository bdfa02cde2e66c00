"""Stage 4: export the trained network to ONNX, SavedModel and TFLite, checking each against
torch."""

from __future__ import annotations

from pipeline.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``exported/`` and ``metrics/export.json``; add the diffs, the files and the ONNX
    model (an MLflow Logged Model) to the pipeline's MLflow run."""
    from pipeline import tracking
    from pipeline.outputs import load_trained, read_run_id, write_json

    run_id = read_run_id(ctx.paths.run_record)
    tracker = tracking.Tracker(ctx.paths.root)
    with tracker.active(run_id):
        family, module, data = load_trained(ctx)
        network, inputs = family.export_target(module, data)
        # TensorFlow loads here, never when other stages import the pipeline.
        import torch

        from pipeline.export.exporter import ONNX_FILE, export_network
        from pipeline.export.mlflow_model import log_onnx_model
        from pipeline.export.parity import ParityError

        settings = ctx.params["export"]
        examples = inputs[: settings["examples"]]
        try:
            diffs = export_network(
                family, network, examples, ctx.paths.exported, settings["tolerance"]
            )
        except ParityError as error:  # keep the measured diffs on the FAILED run for diagnosis
            tracker.log_metrics(run_id, {f"export.{k}": v for k, v in error.diffs.items()})
            raise
        write_json(ctx.paths.metrics / "export.json", diffs)
        tracker.log_metrics(run_id, {f"export.{k}": v for k, v in diffs.items()})
        tracker.log_artifact(run_id, ctx.paths.exported, "exported")
        log_onnx_model(
            run_id,
            ctx.paths.exported / ONNX_FILE,
            torch.as_tensor(examples).numpy(),
            ctx.params["model"]["family"],
        )
    return diffs
