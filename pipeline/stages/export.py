"""Stage 4: export the trained network to ONNX, SavedModel and TFLite, checking each against
torch."""

from __future__ import annotations

import contextlib

from pipeline.stages.context import RunContext


def run(ctx: RunContext) -> dict[str, float]:
    """Write ``exported/`` and ``metrics/export.json``; add the diffs, the files, the formats and
    the ONNX models (MLflow Logged Models) to the pipeline's MLflow run."""
    from pipeline._runtime import gc_pause as collector
    from pipeline.stages.outputs import load_trained, read_run_id, write_json
    from pipeline.tracking import runs as tracking

    run_id = read_run_id(ctx.paths.run_record)
    tracker = tracking.Tracker(ctx.paths.root)
    with tracker.active(run_id, "export"):
        family, module, data = load_trained(ctx)
        target = family.export_target(module, data)
        # TensorFlow loads here, never when other stages import the pipeline.
        from pipeline.export.exporter import (
            ALL_FORMATS,
            SINGLE,
            export_formats,
            export_parts,
            parts_of,
        )
        from pipeline.export.mlflow_model import log_onnx_model
        from pipeline.export.parity import ParityError

        settings = ctx.params["export"]
        name = ctx.params["model"]["family"]
        formats = export_formats(family)
        with collector.paused():  # ONNX's and TensorFlow's exporters stay out of later collections
            import_exporters(formats)
        tracker.set_tag(run_id, "export.formats", ", ".join(formats))
        skipped = [fmt for fmt in ALL_FORMATS if fmt not in formats]
        if skipped:
            print(
                f"export: {name} writes {', '.join(formats)} only; it has no Keras twin for "
                f"{' and '.join(skipped)}.",
                flush=True,
            )
        parts = parts_of(target, settings["examples"])
        try:
            diffs = export_parts(family, parts, ctx.paths.exported, settings["tolerance"])
        except ParityError as error:  # keep the measured diffs on the run for diagnosis
            # The store's own error (a busy sqlite file, say) must not hide the parity failure.
            with contextlib.suppress(Exception):
                tracker.log_metrics(run_id, {f"export.{k}": v for k, v in error.diffs.items()})
            raise
        tracker.log_metrics(run_id, {f"export.{k}": v for k, v in diffs.items()})
        tracker.log_artifact(run_id, ctx.paths.exported, "exported")
        for part in parts:
            log_onnx_model(
                run_id,
                ctx.paths.exported / part.file("ONNX"),
                part.arrays(),
                name if part.name == SINGLE else f"{name}-{part.name}",
            )
    # Last, once the run is closed: DVC keeps this file in place rather than in its cache, so a
    # failure before here leaves the last good one, beside the last good export DVC restores.
    write_json(ctx.paths.metrics / "export.json", diffs)
    return diffs


def import_exporters(formats: tuple[str, ...]) -> None:
    """Import the libraries that write ``formats``: torch's ONNX exporter always, TensorFlow
    (configured first) for SavedModel and TFLite."""
    import onnxscript  # noqa: F401
    import torch.export  # noqa: F401

    from pipeline.export.backend import load_keras

    if set(formats) - {"ONNX"}:
        load_keras()
