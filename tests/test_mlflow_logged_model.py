"""The exported model as MLflow's users expect it, through MLflow's own client on a real SQLite
store: in the run's experiment, resolvable as ``runs:/<run>/<name>`` and ``models:/<id>``, with the
run's final metrics, and one model however often the run is exported."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import onnx
from mlflow.tracking import MlflowClient
from onnx import TensorProto, helper

from pipeline.export.mlflow_model import log_onnx_model
from pipeline.tracking.runs import Tracker

WEIGHTS = np.arange(12, dtype=np.float32).reshape(4, 3) / 10


def write_linear_onnx(path: Path) -> None:
    """A 4 → 3 linear network, written with ONNX's own helpers (no exporter to import)."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "w"], ["output"])],
        "linear",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor("w", TensorProto.FLOAT, [4, 3], WEIGHTS.ravel().tolist())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # what the installed onnxruntime reads
    onnx.save(model, str(path))


def trained_run(tracker: Tracker) -> str:
    """A run as train and evaluate leave it: epoch curves (step = epoch) and test metrics."""
    run_id = tracker.create_run("mine", {"model": {"family": "classifier", "hidden": 8}})
    for epoch, (loss, acc) in enumerate([(1.2, 0.90), (0.6, 0.94), (0.4, 0.956)]):
        tracker.log_metrics(run_id, {"val_loss": loss, "val_acc": acc}, step=epoch)
    tracker.log_metrics(run_id, {"test.accuracy": 0.95})
    return run_id


def test_the_model_lives_in_the_runs_experiment_with_its_final_metrics_once(
    tmp_path: Path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    tracker = Tracker(tmp_path)
    run_id = trained_run(tracker)
    onnx_file = tmp_path / "model.onnx"
    write_linear_onnx(onnx_file)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)

    first = log_onnx_model(run_id, onnx_file, [x], "classifier")
    again = log_onnx_model(run_id, onnx_file, [x], "classifier")  # export rerun on the same run

    client = MlflowClient(tracker.uri)
    run = client.get_run(run_id)
    assert again == first
    (output,) = run.outputs.model_outputs
    assert (output.model_id, output.step) == (first, 2)  # the last epoch's weights
    model = client.get_logged_model(first)
    assert model.experiment_id == run.info.experiment_id != "0"  # not MLflow's Default
    assert model.name == "classifier" and model.source_run_id == run_id
    assert model.params["model.hidden"] == "8"
    shown = {m.key: m.value for m in model.metrics}
    assert len(model.metrics) == len(shown)  # each once, though exported twice
    assert shown == {"val_loss": 0.4, "val_acc": 0.956, "test.accuracy": 0.95}
    found = client.search_logged_models([run.info.experiment_id])
    assert [m.model_id for m in found] == [first]
    assert client.search_logged_models(["0"]).to_list() == []

    mlflow.set_tracking_uri(tracker.uri)
    for uri in (f"runs:/{run_id}/classifier", f"models:/{first}"):
        predicted = mlflow.pyfunc.load_model(uri).predict(x)
        predicted = next(iter(predicted.values())) if isinstance(predicted, dict) else predicted
        np.testing.assert_allclose(np.asarray(predicted), x @ WEIGHTS, rtol=1e-6, atol=1e-6)
