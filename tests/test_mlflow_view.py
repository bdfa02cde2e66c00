"""What users see in MLflow: run names, source and DVC tags, the experiment's kind, the logged
ONNX model."""

from __future__ import annotations

import getpass
from pathlib import Path

import mlflow
import numpy as np
import onnxruntime
from mlflow.tracking import MlflowClient

from pipeline.tracking.runs import Tracker, default_run_name


def assert_mlflow_view(client: MlflowClient, mlrun, project: Path) -> None:
    """Checks on the run of a finished ``dvc repro`` (called by the end-to-end test)."""
    tags = mlrun.data.tags
    assert mlrun.info.run_name.startswith("classifier-")
    assert tags["mlflow.source.name"] == "pipeline run train"
    assert tags["mlflow.source.type"] == "LOCAL" and tags["mlflow.user"] == getpass.getuser()
    experiment = client.get_experiment(mlrun.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"

    (output,) = client.get_run(mlrun.info.run_id).outputs.model_outputs
    mlflow.set_tracking_uri(client.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{output.model_id}")
    assert model.metadata.signature is not None
    session = onnxruntime.InferenceSession(
        str(project / "exported" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    features = session.get_inputs()[0].shape[1]
    x = np.random.default_rng(0).uniform(0, 16, (7, features)).astype(np.float32)
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    predicted = model.predict(x)
    predicted = next(iter(predicted.values())) if isinstance(predicted, dict) else predicted
    np.testing.assert_allclose(np.asarray(predicted), expected, atol=1e-6, rtol=0)


def test_runs_carry_dvc_experiment_and_source_tags(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DVC_EXP_NAME", "tidy-lamb")
    monkeypatch.setenv("DVC_EXP_BASELINE_REV", "0" * 40)
    tracker = Tracker(tmp_path)
    first = tracker.create_run("exp", {}, run_name=default_run_name("classifier"))
    client = MlflowClient(tracker.uri)
    run = client.get_run(first)
    assert run.info.run_name == "classifier-tidy-lamb"
    assert run.data.tags["dvc.exp_name"] == "tidy-lamb"
    assert run.data.tags["dvc.baseline_rev"] == "0" * 40
    assert run.data.tags["mlflow.source.type"] == "LOCAL"

    # an experiment made elsewhere gets its kind when the pipeline first uses it
    other = client.create_experiment("made-by-hand")
    tracker.create_run("made-by-hand", {}, run_name="x")
    assert client.get_experiment(other).tags["mlflow.experimentKind"] == (
        "custom_model_development"
    )
