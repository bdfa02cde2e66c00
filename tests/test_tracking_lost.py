"""A tracking server that dies during training costs no training: the fit goes on, the stage ends
in one line keeping the trained model in its last checkpoint, and the next run records it, training
nothing again, into the same run once the server is back or into a new run of another store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from tests.e2e_kit import checkpoint_epoch, free_port
from tests.project_kit import command_env, params_only, run

EPOCHS = 40


def start_server(store: Path, port: int) -> subprocess.Popen:
    """``mlflow server`` on a SQLite store, answering on ``port`` once this returns."""
    command = ["mlflow", "server", "--backend-store-uri", f"sqlite:///{store}"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(
        command,
        cwd=store.parent,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).close()
            return server
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "mlflow server died"
            time.sleep(0.3)


def stop(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()


@pytest.mark.slow
@pytest.mark.parametrize("rerun_store", ["server back", "local store"])
def test_a_server_lost_during_training_keeps_the_model_and_the_rerun_records_it(
    tmp_path: Path, rerun_store: str
):
    root = params_only(
        tmp_path / "project", trainer={"max_epochs": EPOCHS}, checkpoint={"seconds": 0}
    )
    run(["pipeline", "run", "prepare"], root)
    store, port = tmp_path / "server" / "mlflow.db", free_port()
    store.parent.mkdir()
    server = start_server(store, port)
    uri = f"http://127.0.0.1:{port}"
    env = {"MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}
    training = subprocess.Popen(
        ["pipeline", "run", "train"],
        cwd=root,
        env=command_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    last = root / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while checkpoint_epoch(last) < 1:
        assert training.poll() is None and time.monotonic() < deadline, training.communicate()
        time.sleep(0.05)
    stop(server)  # the server goes away in the middle of training
    out, err = training.communicate(timeout=600)

    assert training.returncode == 2, out + err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert errors[0].startswith(f"error: the tracking store {uri} stopped answering during ")
    assert errors[0].endswith(
        f"the trained model is kept in {last}: once the store answers again, rerun "
        "(`dvc repro`) to record it without training again."
    )
    assert checkpoint_epoch(last) == EPOCHS - 1  # every epoch trained and kept
    assert not (root / "models" / "model.pt").exists()

    if rerun_store == "server back":
        server = start_server(store, port)
        rerun_env = env
    else:  # a checkpoint whose run this store lacks is recorded into a new run
        rerun_env = {"OMP_NUM_THREADS": "1"}
    try:
        done = run(["pipeline", "run", "train"], root, **rerun_env)
    finally:
        if rerun_store == "server back":
            stop(server)
    assert "Traceback" not in done.stderr
    metrics = json.loads((root / "metrics" / "train.json").read_text())
    assert metrics["epochs"] == EPOCHS and metrics["val_acc"] > 0.9
    assert len((root / "plots" / "history.csv").read_text().splitlines()) == EPOCHS + 1
    assert not (root / "checkpoints").exists()  # finished: the checkpoints are dropped

    if rerun_store == "server back":
        server = start_server(store, port)
        client = MlflowClient(uri)
    else:
        client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    try:
        (mlrun,) = client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
        assert mlrun.info.status == "FINISHED"
        assert json.loads((root / "models" / "run.json").read_text())["run_id"] == mlrun.info.run_id
        steps = sorted(m.step for m in client.get_metric_history(mlrun.info.run_id, "val_loss"))
        assert steps == list(range(EPOCHS))  # every epoch, back-filled, none twice
        assert mlrun.data.metrics["val_acc"] == metrics["val_acc"]
    finally:
        if rerun_store == "server back":
            stop(server)
