"""MLflow is written from a background thread; a resumed run writes the epochs a killed one had not
written, and never writes one twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from pipeline.tracking.metric_writer import BackgroundWriter
from pipeline.tracking.mlflow_logger import CheckpointBatchedMLFlowLogger, EpochEnds


def test_backfill_writes_only_the_epochs_the_run_lacks(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts under ./mlruns
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("e")).info.run_id
    logger = CheckpointBatchedMLFlowLogger(EpochEnds(), "e", run_id=run_id, tracking_uri=uri)
    logger.epoch_ends.reached = True  # as at the end of an epoch
    logger.log_metrics({"val_loss": 0.9, "epoch": 0}, step=10)
    logger.flush()
    logger._writer.wait()

    epochs = {0: {"val_loss": 0.9, "train_loss": 1.0}, 1: {"val_loss": 0.7, "train_loss": 0.8}}
    logger.backfill(epochs)
    logger.finalize()

    def history(key):
        return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))

    assert history("val_loss") == [(0, 0.9), (1, 0.7)]
    assert history("train_loss") == [(0, 1.0), (1, 0.8)]


def test_writes_happen_in_order_and_a_failed_write_is_raised_at_wait():
    written = []

    def write(batch):
        if "bad" in batch:
            raise ConnectionError("store down")
        written.append(batch)

    writer = BackgroundWriter(write)
    writer.submit(list(range(2500)))
    writer.wait()
    assert [len(b) for b in written] == [1000, 1000, 500]
    assert sum(written, []) == list(range(2500))
    writer.submit(["bad"])
    writer.submit(["later"])
    with pytest.raises(ConnectionError, match="store down"):
        writer.wait()
    assert written[-1] == list(range(2000, 2500))  # nothing after the failure is written
