"""One process may serve several projects (a notebook, a test session, a sweep's worker): each
records into its own store, whatever MLflow exported for the one before."""

from __future__ import annotations

import os
import shutil
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


def warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


def test_a_copied_project_says_once_that_its_experiment_writes_into_the_original(
    tmp_path: Path, capsys
):
    original = tmp_path / "my project"
    original.mkdir()
    Tracker(original).experiment_id("pipeline")
    Tracker(original).experiment_id("pipeline")
    assert warnings(capsys) == []  # its own mlruns/

    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    tracker = Tracker(copy)
    tracker.experiment_id("pipeline")
    tracker.experiment_id("pipeline")
    [line] = warnings(capsys)
    folder = original.resolve() / "mlruns"
    assert line == (
        f"warning: MLflow experiment 'pipeline' keeps its runs' files in {folder}, outside this "
        "project (copied or moved from there?), and goes on writing there; set "
        "tracking.experiment to a new name to keep them in this project's mlruns/."
    )
    # The advice works: a new experiment of the copy keeps its files in the copy.
    fresh = tracker.client.get_experiment(tracker.experiment_id("mine"))
    assert fresh.artifact_location == (copy.resolve() / "mlruns").as_uri()
    assert warnings(capsys) == []
