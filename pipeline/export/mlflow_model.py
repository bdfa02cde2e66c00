"""The exported ONNX files as MLflow Logged Models of the pipeline's run: they fill the run's
Models column, resolve as ``runs:/<run>/<name>`` and ``models:/<id>``, and can be registered or
served with ``mlflow models serve``.

Each model belongs to the run's own experiment (MLflow's ``log_model`` would put it in the
experiment that happens to be active, ``Default`` in a stage), carries the run's params and its
final metrics, and is one per training and name: exporting the same run again rewrites that model's
files instead of adding another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.export.onnx_format import INPUT_NAME, OUTPUT_NAME, names, run_onnx_outputs

INPUT_EXAMPLE_ROWS = 5  # enough to show the input's layout without bloating the artifact
# Lightning's own bookkeeping metric (the epoch against the global step), not a result.
NOT_A_RESULT = frozenset({"epoch"})


def log_onnx_model(run_id: str, path: Path, inputs: list[np.ndarray], name: str) -> str:
    """Log the ONNX file at ``path`` as the Logged Model ``name`` of ``run_id``, with a signature
    inferred from ``inputs`` (one array per input of the network) and their outputs (running the
    held-out examples again costs milliseconds); return the model's id."""
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
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    finals = final_metrics(client, run)
    model_id, new = model_of(client, run, name)
    mlflow.onnx.log_model(
        onnx.load(str(path)),
        name=name,
        model_id=model_id,
        # No run here: MLflow would list the model among the run's outputs once more on every
        # export and attach the metrics of one step to it; both are done below, once.
        run_id=None,
        signature=infer_signature(model_input, model_output),
        input_example=example,
        # Pinned, so MLflow does not spend seconds inferring them in a subprocess.
        pip_requirements=[f"onnx=={onnx.__version__}", f"onnxruntime=={onnxruntime.__version__}"],
        onnx_execution_providers=["CPUExecutionProvider"],  # where the parity check ran it
        save_as_external_data=False,  # one self-contained file, as exported
    )
    if new:
        from mlflow.entities import LoggedModelOutput

        last = max((m.step for m in finals), default=0)  # the epoch the exported weights are from
        client.log_outputs(run_id, [LoggedModelOutput(model_id, step=last)])
    link_metrics(client, run_id, model_id, finals)
    return model_id


def model_of(client: Any, run: Any, name: str) -> tuple[str, bool]:
    """The id of ``run``'s Logged Model called ``name`` in the run's experiment, created (with the
    run's params) if missing; and whether it was created now."""
    experiment_id, run_id = run.info.experiment_id, run.info.run_id
    token = None
    while True:  # MLflow's own search for `runs:/<run>/<name>`: by name, then the source run
        page = client.search_logged_models(
            [experiment_id], filter_string=f"name = '{name}'", page_token=token
        )
        for model in page:
            if model.source_run_id == run_id:
                return model.model_id, False
        if not (token := page.token):
            break
    params = {key: str(value) for key, value in run.data.params.items()}
    model = client.create_logged_model(experiment_id, name, source_run_id=run_id, params=params)
    return model.model_id, True


def final_metrics(client: Any, run: Any) -> list[Any]:
    """Each result metric's last point in ``run`` (an epoch curve's last epoch, a final value)."""
    finals = []
    for key in sorted(set(run.data.metrics) - NOT_A_RESULT):
        history = client.get_metric_history(run.info.run_id, key)
        if history:
            finals.append(max(history, key=lambda m: (m.step, m.timestamp)))
    return finals


def link_metrics(client: Any, run_id: str, model_id: str, finals: list[Any]) -> None:
    """Show ``finals`` on the model's page: the same points, tied to the model (the run's history
    already holds them, so it gains nothing)."""
    from mlflow.entities import Metric

    linked = [
        Metric(m.key, m.value, m.timestamp, m.step, run_id=run_id, model_id=model_id)
        for m in finals
    ]
    for start in range(0, len(linked), 1000):  # MLflow's most metrics per batch
        client.log_batch(run_id, metrics=linked[start : start + 1000])
