"""The lines a stage ends with name its MLflow run, and the `mlflow ui` line pastes into a shell
as it is, even from a folder whose path holds a space."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from pipeline.paths import Paths
from pipeline.stages.console import summary
from pipeline.tracking.runs import Tracker


def test_the_mlflow_ui_line_is_shell_quoted(tmp_path: Path):
    root = tmp_path / "my project (copy)"
    root.mkdir()
    tracker = Tracker(root)
    run_id = tracker.create_run("quoted", {"seed": 0}, run_name="quoted-run")
    paths = Paths(root)
    paths.run_record.parent.mkdir()
    paths.run_record.write_text(json.dumps({"run_id": run_id}))

    lines = summary("train", {"val_acc": 0.5}, paths, 1.25)

    assert lines[:2] == ["train: done in 1.2 s; val_acc 0.5", f"MLflow run quoted-run ({run_id})"]
    (command,) = [line.strip() for line in lines if "mlflow ui" in line]
    assert shlex.split(command) == ["mlflow", "ui", "--backend-store-uri", tracker.uri]
    assert " " in tracker.uri and tracker.uri.endswith("my project (copy)/mlflow.db")
