"""`dvc repro` end to end in a fresh git clone: stages, caching, metrics, plots and the MLflow
run."""

from __future__ import annotations

import json
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.e2e_kit import stages_ran
from tests.project_kit import edit_params, fast_params, run
from tests.test_mlflow_view import assert_mlflow_view


def only_run(client: MlflowClient):
    experiment = client.get_experiment_by_name("pipeline")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return runs[0]


def test_dvc_repro_end_to_end(project: Path):
    fast_params(project, epochs=3)
    first = run(["dvc", "repro"], project)
    assert stages_ran(first.stdout) == ["check", "prepare", "train", "evaluate", "export"]

    train = json.loads((project / "metrics" / "train.json").read_text())
    evaluate = json.loads((project / "metrics" / "evaluate.json").read_text())
    assert (
        train["epochs"] == 3 and train["optimizer_steps"] == 3 * 20
    )  # 1,257 train digits / 64 per batch
    assert evaluate["accuracy"] > 0.75  # 3 epochs; untrained is 0.1
    for path in (
        "exported/model.onnx",
        "exported/model.tflite",
        "plots/evaluate/confusion_matrix.png",
        "plots/history.csv",
    ):
        assert (project / path).is_file(), path
    history = (project / "plots" / "history.csv").read_text().splitlines()
    assert history[0].startswith("epoch,") and len(history) == 4

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    mlrun = only_run(client)
    assert mlrun.info.status == "FINISHED"
    assert (
        mlrun.data.params["model.family"] == "classifier"
        and mlrun.data.params["trainer.max_epochs"] == "3"
    )
    assert (
        mlrun.data.tags["mlflow.source.git.commit"]
        == run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    )
    assert abs(mlrun.data.metrics["test.accuracy"] - evaluate["accuracy"]) < 1e-12
    for epoch_metric in ("val_loss", "train_loss"):  # learning curves: one point per epoch
        history = client.get_metric_history(mlrun.info.run_id, epoch_metric)
        assert sorted(m.step for m in history) == [0, 1, 2], epoch_metric
    assert_mlflow_view(client, mlrun, project)
    artifacts = {a.path for a in client.list_artifacts(mlrun.info.run_id)}
    assert {"params.yaml", "plots", "exported"} <= artifacts
    plots = {a.path for a in client.list_artifacts(mlrun.info.run_id, "plots")}
    assert "plots/confusion_matrix.png" in plots

    second = run(["dvc", "repro"], project)
    assert stages_ran(second.stdout) == ["check"]  # the check runs every time; nothing else changed
    assert all(
        f"Stage '{stage}' didn't change, skipping" in second.stdout
        for stage in ("prepare", "train", "evaluate", "export")
    )

    edit_params(project, trainer={"max_epochs": 4})
    third = run(["dvc", "repro"], project)
    assert stages_ran(third.stdout) == ["check", "train", "evaluate", "export"]
    assert json.loads((project / "metrics" / "train.json").read_text())["epochs"] == 4
    names = [r.info.run_name for r in client.search_runs([mlrun.info.experiment_id])]
    assert len(set(names)) == 2 and all(n.startswith("classifier-") for n in names), names

    plots = json.loads(run(["dvc", "plots", "show", "--json"], project).stdout)
    assert not plots.get("errors"), plots["errors"]
    shown = {
        "learning curves",
        "plots/evaluate/confusion.csv",
        "plots/evaluate/confusion_matrix.png",
    }
    assert shown <= set(plots["data"])


def test_failed_stage_keeps_dvc_lock_and_marks_run_failed(project: Path):
    fast_params(project, epochs=1)
    run(["dvc", "repro", "train"], project)
    lock_before = (project / "dvc.lock").read_text()
    edit_params(project, trainer={"max_epochs": 2, "strategy": "warp_drive"})
    failed = run(["dvc", "repro", "train"], project, check=False)
    assert failed.returncode != 0
    assert (
        "error: trainer.strategy = 'warp_drive' is invalid; expected one of auto, ddp"
        in failed.stderr
    )
    assert stages_ran(failed.stdout) == ["check"]
    assert (project / "dvc.lock").read_text() == lock_before
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    statuses = sorted(
        r.info.status
        for r in client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    )
    assert statuses == ["FINISHED"]  # refused before a run was opened

    edit_params(
        project, trainer={"strategy": "auto", "max_time": "later"}
    )  # only Lightning can judge this one
    failed = run(["dvc", "repro", "train"], project, check=False)
    assert (
        "error: Lightning rejected the trainer settings" in failed.stderr
        and "Traceback" not in failed.stderr
    )
    assert (project / "dvc.lock").read_text() == lock_before and (
        project / "models" / "model.pt"
    ).is_file()
    statuses = sorted(
        r.info.status
        for r in client.search_runs([client.get_experiment_by_name("pipeline").experiment_id])
    )
    assert statuses == ["FINISHED"]


def test_corrupt_model_is_a_clear_error(project: Path):
    fast_params(project, epochs=1)
    run(["dvc", "repro", "train"], project)
    (project / "models" / "model.pt").write_bytes(b"not a checkpoint")
    done = run(["pipeline", "run", "evaluate"], project, check=False)
    assert done.returncode == 2
    assert "models/model.pt is corrupt or unreadable" in done.stderr
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    # The run's recorded model is good (the file was damaged since): it stays FINISHED, with the
    # refusal recorded on it.
    mlrun = only_run(client)
    assert mlrun.info.status == "FINISHED"
    failure = mlrun.data.tags["pipeline.failed_stage"]
    assert failure.startswith("evaluate: ")
    assert "models/model.pt is corrupt or unreadable" in failure
