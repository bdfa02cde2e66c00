"""The MLflow UI as a user's browser shows it (a real headless Chromium on a real `mlflow server`):
the address a stage prints opens the run in MLflow's model-training view, with its metrics and its
Logged Model; MLflow's plain address would start in the GenAI view."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pipeline.export.mlflow_model import log_onnx_model
from pipeline.paths import Paths
from pipeline.stages.console import summary
from pipeline.tracking.runs import Tracker
from tests.browser_kit import look
from tests.e2e_kit import free_port
from tests.test_mlflow_logged_model import trained_run, write_linear_onnx

GENAI_ONLY = ("Prompts", "AI Gateway")  # sidebar entries of the GenAI view only


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> str:
    """`mlflow server` on loopback over a SQLite store, its artifacts served through it."""
    home = tmp_path_factory.mktemp("ui")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--artifacts-destination", str(home / "artifacts")],
        cwd=home, stdout=subprocess.DEVNULL, stderr=(home / "server.log").open("w"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(
                        "mlflow server did not start:\n" + (home / "server.log").read_text()
                    )
                time.sleep(1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_printed_address_opens_the_run_in_the_model_training_view(
    server: str, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.chdir(tmp_path)
    run_id = trained_run(Tracker(tmp_path))
    write_linear_onnx(tmp_path / "model.onnx")
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    log_onnx_model(run_id, tmp_path / "model.onnx", [x], "classifier")
    paths = Paths(tmp_path)
    paths.run_record.parent.mkdir()
    paths.run_record.write_text(json.dumps({"run_id": run_id}))

    address = summary("export", {}, paths, 1.0)[-1].strip()  # the stage's last line
    assert address.startswith(f"{server}/#/experiments/") and run_id in address
    page = look(address, wait_for="Logged models (1)", timeout_s=90)
    assert page["errors"] == [], page["errors"]
    text = page["text"]
    assert "Model registry" in text and not any(entry in text for entry in GENAI_ONLY), text[:500]
    assert "Logged models (1)" in text and "classifier" in text
    assert "test.accuracy" in text and "val_acc" in text

    # What the printed address avoids: MLflow's own address for the run opens the GenAI view.
    plain = look(address.split("?")[0], wait_for="Prompts", timeout_s=90)
    assert "Prompts" in plain["text"] and "Model registry" not in plain["text"]


def test_the_readme_address_lists_the_experiments_in_the_model_training_view(server: str):
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    shown = "http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
    assert shown in readme
    page = look(shown.replace("http://127.0.0.1:5000", server), wait_for="Default", timeout_s=90)
    assert "Model registry" in page["text"] and "Default" in page["text"]
    assert not any(entry in page["text"] for entry in GENAI_ONLY)
