"""The export stage: ONNX, SavedModel and TFLite files that reproduce torch, written only when they
do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mlflow.tracking import MlflowClient
from torch import nn

from pipeline import Family, PipelineError
from pipeline.data.prepared import PreparedData
from pipeline.stages.context import build_context
from pipeline.stages.outputs import load_trained
from tests.project_kit import edit_params, fast_params, run

DIFFS = ("onnx_max_abs_diff", "savedmodel_max_abs_diff", "tflite_max_abs_diff")


def only_run(project: Path):
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("pipeline")
    (found,) = client.search_runs([experiment.experiment_id])
    return client, found


def tflite_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    runner = tf.lite.Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return runner(input=x)["output_0"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_trained_classifier_exports_and_a_failed_parity_check_writes_nothing(
    project: Path, monkeypatch
):
    from pipeline.stages import run_stage

    monkeypatch.chdir(project)  # MLflow puts artifacts under the working directory
    fast_params(project, epochs=2)
    for stage in (
        "prepare",
        "train",
    ):  # in-process: a fresh interpreter per stage costs seconds of imports
        run_stage(stage, build_context(project))

    # Through the command a user types: a first export that fails parity exits with one line,
    # leaves no exported/ at all and records the failure on the run, which stays FINISHED: its
    # trained model is still good.
    edit_params(project, export={"tolerance": 1e-30})
    failed = run(["pipeline", "run", "export"], project, check=False)
    assert failed.returncode == 2, failed.stderr[-3000:]
    last_line = failed.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ONNX output differs from torch by "), failed.stderr[-3000:]
    assert "above export.tolerance = 1e-30" in failed.stderr and "Traceback" not in failed.stderr
    assert not (project / "exported").exists() and not list(project.glob(".exported-*"))
    assert not (project / "metrics" / "export.json").exists()
    client, mlrun = only_run(project)
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.tags["pipeline.failed_stage"].startswith(
        "export: ONNX output differs from torch by "
    )
    assert (
        0 < mlrun.data.metrics["export.onnx_max_abs_diff"] < 1e-4
    )  # measured diffs are kept for diagnosis

    edit_params(project, export={"tolerance": 1e-4})
    assert run_stage("export", build_context(project)) == json.loads(
        (project / "metrics" / "export.json").read_text()
    )
    exported = project / "exported"
    for name in ("model.onnx", "model.tflite", "saved_model/saved_model.pb"):
        assert (exported / name).is_file(), name
    metrics = json.loads((project / "metrics" / "export.json").read_text())
    assert sorted(metrics) == sorted(DIFFS) and all(0 <= metrics[k] <= 1e-4 for k in DIFFS)

    client, mlrun = only_run(project)
    assert mlrun.info.status == "FINISHED" and "pipeline.failed_stage" not in mlrun.data.tags
    assert {k: mlrun.data.metrics[f"export.{k}"] for k in DIFFS} == metrics
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id, "exported")}
    assert artifacts == {"exported/model.onnx", "exported/model.tflite", "exported/saved_model"}

    # Fresh inputs the export never saw: the rest of the test split, and uniform noise.
    ctx = build_context(project)
    family, module, data = load_trained(ctx)
    network, _ = family.export_target(module, data)
    x = np.concatenate(
        [
            PreparedData.load(ctx.paths.prepared).test.x[64:],
            np.random.default_rng(1).random((5, 64), dtype=np.float32),
        ]
    )
    with torch.no_grad():
        expected = network(torch.from_numpy(x)).numpy()

    import onnxruntime

    session = onnxruntime.InferenceSession(
        str(exported / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(
        session.run(["output"], {"input": x})[0], expected, rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(
        tflite_outputs(exported / "model.tflite", x), expected, rtol=0, atol=1e-5
    )
    np.testing.assert_allclose(
        tflite_outputs(exported / "model.tflite", x[:1]), expected[:1], rtol=0, atol=1e-5
    )

    # A failed parity check keeps the previous export byte for byte.
    before = snapshot(exported)
    edit_params(project, export={"tolerance": 1e-30})
    with pytest.raises(
        PipelineError, match=r"^ONNX output differs from torch .* export.tolerance = 1e-30"
    ):
        run_stage("export", build_context(project))
    assert snapshot(exported) == before and not list(project.glob(".exported-*"))
    mlrun = only_run(project)[1]
    assert mlrun.info.status == "FINISHED"
    assert mlrun.data.tags["pipeline.failed_stage"].startswith("export: ONNX output differs")


def every_supported_layer() -> nn.Sequential:
    torch.manual_seed(0)
    norm = nn.BatchNorm1d(16)
    plain_norm = nn.BatchNorm1d(12, affine=False)
    for layer in (norm, plain_norm):  # non-trivial statistics so a mix-up of mean/var/eps shows
        layer.running_mean.uniform_(-1, 1)
        layer.running_var.uniform_(0.5, 2)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2)
        norm.bias.uniform_(-1, 1)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(8, 16),
        norm,
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(16, 12),
        nn.LeakyReLU(0.1),
        plain_norm,
        nn.ELU(0.7),
        nn.Identity(),
        nn.Linear(12, 12),
        nn.Tanh(),
        nn.Sequential(nn.Linear(12, 6, bias=False), nn.Sigmoid()),
        nn.Linear(6, 3),
        nn.Softmax(dim=1),
    ).eval()


def test_generic_converter_matches_torch_for_every_supported_layer():
    from pipeline.export.keras_convert import CONVERTERS, to_keras

    network = every_supported_layer()
    assert set(CONVERTERS) <= {type(m) for m in network.modules()}
    x = torch.randn(32, 2, 4)
    with torch.no_grad():
        expected = network(x).numpy()
    model = to_keras(network, (2, 4))
    np.testing.assert_allclose(model(x.numpy()).numpy(), expected, rtol=0, atol=1e-5)


def test_every_supported_layer_survives_all_three_formats(tmp_path: Path):
    from pipeline.export.exporter import export_network

    diffs = export_network(
        Family(), every_supported_layer(), torch.randn(16, 2, 4), tmp_path / "exported", 1e-5
    )
    assert sorted(diffs) == sorted(DIFFS) and max(diffs.values()) <= 1e-5
    assert sorted(p.name for p in (tmp_path / "exported").iterdir()) == [
        "model.onnx",
        "model.tflite",
        "saved_model",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["exported"]


class Residual(nn.Module):
    """Not a Sequential: x + W x, which only a family's own keras_model can rebuild."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)

    def forward(self, x):
        return x + self.linear(x)


class ResidualFamily(Family):
    def keras_model(self, network):
        import keras

        inputs = keras.Input(shape=(4,))
        dense = keras.layers.Dense(4)
        outputs = keras.layers.Add()([inputs, dense(inputs)])
        dense.set_weights(
            [network.linear.weight.detach().numpy().T, network.linear.bias.detach().numpy()]
        )
        return keras.Model(inputs, outputs)


def test_a_family_keras_model_exports_a_network_the_generic_converter_rejects(tmp_path: Path):
    from pipeline.export.exporter import export_network
    from pipeline.export.keras_convert import to_keras

    network = Residual().eval()
    with pytest.raises(
        PipelineError, match="network is a Residual, .*implement Family.keras_model"
    ):
        to_keras(network, (4,))
    diffs = export_network(
        ResidualFamily(), network, torch.randn(8, 4), tmp_path / "exported", 1e-5
    )
    assert max(diffs.values()) <= 1e-5


def test_unsupported_layer_is_named_with_the_supported_ones():
    from pipeline.export.keras_convert import to_keras

    with pytest.raises(
        PipelineError,
        match=r"layer GELU has no Keras conversion; supported layers: BatchNorm1d, Dropout, ELU, "
        r"Flatten, Identity, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh",
    ):
        to_keras(nn.Sequential(nn.Linear(4, 4), nn.GELU()), (4,))


def test_tolerance_must_be_positive_and_may_be_tiny(tmp_path: Path):
    assert (
        build_context(tmp_path, raw_params={"export": {"tolerance": 1e-30}}).params["export"][
            "tolerance"
        ]
        == 1e-30
    )
    with pytest.raises(PipelineError, match=r"export.tolerance = 0 is invalid"):
        build_context(tmp_path, raw_params={"export": {"tolerance": 0}})
