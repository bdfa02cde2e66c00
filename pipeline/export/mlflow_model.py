"""The exported ONNX files as MLflow Logged Models of the pipeline's run: they fill the run's
Models column and can be registered or served with ``mlflow models serve``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.export.onnx_format import INPUT_NAME, OUTPUT_NAME, names, run_onnx_outputs

INPUT_EXAMPLE_ROWS = 5  # enough to show the input's layout without bloating the artifact


def log_onnx_model(run_id: str, path: Path, inputs: list[np.ndarray], name: str) -> None:
    """Log the ONNX file at ``path`` into ``run_id`` with a signature inferred from ``inputs``
    (one array per input of the network) and their outputs (running the held-out examples again
    costs milliseconds)."""
    import mlflow.onnx
    import onnx
    import onnxruntime
    from mlflow.models import infer_signature

    outputs = run_onnx_outputs(path, inputs)
    if len(inputs) == 1:
        model_input, example = inputs[0], inputs[0][:INPUT_EXAMPLE_ROWS]
    else:
        model_input = dict(zip(names(INPUT_NAME, len(inputs)), inputs, strict=True))
        example = {k: v[:INPUT_EXAMPLE_ROWS] for k, v in model_input.items()}
    if len(outputs) == 1:
        model_output = outputs[0]
    else:
        model_output = dict(zip(names(OUTPUT_NAME, len(outputs)), outputs, strict=True))
    mlflow.onnx.log_model(
        onnx.load(str(path)),
        name=name,
        run_id=run_id,
        signature=infer_signature(model_input, model_output),
        input_example=example,
        # Pinned, so MLflow does not spend seconds inferring them in a subprocess.
        pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"],
        onnx_execution_providers=["CPUExecutionProvider"],  # where the parity check ran it
        save_as_external_data=False,  # one self-contained file, as exported
    )
