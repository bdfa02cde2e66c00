"""The exported ONNX file as an MLflow Logged Model of the pipeline's run: it fills the run's
Models column and can be registered or served with ``mlflow models serve``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.export.onnx_format import run_onnx

INPUT_EXAMPLE_ROWS = 5  # enough to show the input's layout without bloating the artifact


def log_onnx_model(run_id: str, path: Path, examples: np.ndarray, name: str) -> None:
    """Log the ONNX file at ``path`` into ``run_id`` with a signature inferred from ``examples``
    and their outputs (running the held-out examples again costs milliseconds)."""
    import mlflow.onnx
    import onnx
    import onnxruntime
    from mlflow.models import infer_signature

    outputs = run_onnx(path, examples)
    mlflow.onnx.log_model(
        onnx.load(str(path)),
        name=name,
        run_id=run_id,
        signature=infer_signature(examples, outputs),
        input_example=examples[:INPUT_EXAMPLE_ROWS],
        # Pinned, so MLflow does not spend seconds inferring them in a subprocess.
        pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"],
        onnx_execution_providers=["CPUExecutionProvider"],  # where the parity check ran it
        save_as_external_data=False,  # one self-contained file, as exported
    )
