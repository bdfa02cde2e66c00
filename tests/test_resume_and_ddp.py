"""Nothing lost: a killed training resumes from its last checkpoint; DDP runs through the same entry
point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.e2e_kit import kill_after_first_checkpoint, mlflow_runs, model_weights
from tests.project_kit import composed, edit_params, fast_params, run
from tests.trick_kit import assert_bitwise_equal


@pytest.mark.parametrize("family", ["classifier", "gan"])  # the gan draws noise every step
def test_killed_training_resumes_to_the_same_weights(project: Path, family: str):
    if family != "classifier":  # params.yaml as `dvc exp run -S model=<family>` composes it
        (project / "params.yaml").write_text(yaml.safe_dump(composed(f"model={family}")))
    fast_params(project, epochs=12)
    run(["pipeline", "run", "prepare"], project)
    run(["pipeline", "run", "train"], project)
    uninterrupted = model_weights(project)
    for generated in ("checkpoints", "models", "plots", "metrics"):
        shutil.rmtree(project / generated, ignore_errors=True)
    (project / "mlflow.db").unlink()

    kill_after_first_checkpoint(project)
    state = json.loads((project / "checkpoints" / "state.json").read_text())
    assert not (project / "models" / "model.pt").exists()
    assert [r.info.status for r in mlflow_runs(project)] == [
        "RUNNING"
    ]  # SIGKILL leaves no chance to close it

    resumed = run(["pipeline", "run", "train"], project)
    assert "Restoring states from the checkpoint path" in resumed.stderr + resumed.stdout
    assert_bitwise_equal(model_weights(project), uninterrupted)
    assert [(r.info.run_id, r.info.status) for r in mlflow_runs(project)] == [
        (state["run_id"], "FINISHED")
    ]
    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    for key in ("train_loss", "val_loss"):  # what the kill left unwritten is written, once
        steps = sorted(m.step for m in client.get_metric_history(state["run_id"], key))
        assert steps == list(range(12)), key
    history = (project / "plots" / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == [str(e) for e in range(12)]


def test_corrupt_checkpoint_is_a_clear_error_and_new_settings_start_over(project: Path):
    fast_params(project, epochs=12)
    run(["pipeline", "run", "prepare"], project)
    kill_after_first_checkpoint(project)
    (project / "checkpoints" / "last.ckpt").write_bytes(b"\x00garbage")
    done = run(["pipeline", "run", "train"], project, check=False)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("error: checkpoint ")
    assert (
        "last.ckpt is corrupt or unreadable" in done.stderr
        and "delete it to start training over" in done.stderr
    )
    assert [r.info.status for r in mlflow_runs(project)] == [
        "KILLED"
    ]  # the run the kill interrupted is closed, not left RUNNING

    edit_params(project, trainer={"max_epochs": 2})
    done = run(["pipeline", "run", "train"], project)
    assert "Restoring states" not in done.stderr + done.stdout
    assert json.loads((project / "metrics" / "train.json").read_text())["epochs"] == 2
    assert sorted(r.info.status for r in mlflow_runs(project)) == ["FINISHED", "KILLED"]


def test_ddp_on_cpu_through_the_stage_entry_point(project: Path):
    fast_params(
        project, epochs=2, data={"num_workers": 1}, trainer={"devices": 2, "strategy": "ddp"}
    )
    run(["pipeline", "run", "prepare"], project)
    done = run(["pipeline", "run", "train"], project)
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stderr + done.stdout
    train = json.loads((project / "metrics" / "train.json").read_text())
    assert (
        train["optimizer_steps"] == 2 * 10
    )  # each of 2 processes takes ceil(629 / 64) batches per epoch
    assert [r.info.status for r in mlflow_runs(project)] == ["FINISHED"]
    run(["pipeline", "run", "evaluate"], project)
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] > 0.6
