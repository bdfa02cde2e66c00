"""One process may serve several projects (a notebook, a test session, a sweep's worker): each
records into its own store, whatever MLflow exported for the one before."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.tracking.runs import Tracker


def test_a_second_project_in_one_process_records_into_its_own_store(tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    first_run = Tracker(first).create_run("a", {"seed": 0})
    assert "MLFLOW_TRACKING_URI" not in os.environ

    tracker = Tracker(second)
    assert tracker.uri == f"sqlite:///{second.resolve() / 'mlflow.db'}"
    second_run = tracker.create_run("a", {"seed": 1})
    runs = tracker.client.search_runs([tracker.experiment_id("a")])
    assert [r.info.run_id for r in runs] == [second_run] and second_run != first_run
