"""Every trick at once through `dvc repro`: the classifier still learns digits, MLflow records the
tricks,
and a training killed mid-run resumes to exactly the weights of an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e_kit import (
    checkpoint_epoch,
    checkpoint_reached,
    kill_when,
    mlflow_runs,
    model_weights,
)
from tests.project_kit import ONE_THREAD, edit_params, run
from tests.trick_kit import assert_bitwise_equal, every_trick

ALL_TRICKS = every_trick(scaled="net.2.*", clipped="net.0.bias", orthogonal="net.0.weight")
EPOCHS = 12


def test_all_tricks_through_dvc_repro_then_kill_and_resume(project: Path):
    # A checkpoint every epoch, so the kill below finds one in the middle of training.
    trainer, checkpoint = {"max_epochs": EPOCHS}, {"seconds": 0}
    edit_params(
        project, tricks=ALL_TRICKS, optimizer={"lr": 0.01}, trainer=trainer, checkpoint=checkpoint
    )
    repro = run(["dvc", "repro"], project, **ONE_THREAD)
    assert "Running stage 'export'" in repro.stdout
    assert json.loads((project / "metrics" / "evaluate.json").read_text())["accuracy"] >= 0.9
    [logged] = mlflow_runs(project)
    in_order = "grad_accum,param_lr,weight_decay,orthogonal_reg,grad_transform,lookahead"
    in_order += ",lazy_embedding"
    assert logged.data.tags["pipeline.tricks"] == in_order + ",piecewise_lr,ema"
    assert logged.data.params["tricks.ema.decay"] == "0.9"
    uninterrupted = model_weights(project)
    (project / "models" / "model.pt").unlink()
    assert not (project / "checkpoints").exists()  # a completed training keeps no checkpoints

    last = project / "checkpoints" / "last.ckpt"
    at_epoch_1 = checkpoint_reached(last, 1)
    kill_when(["pipeline", "run", "train"], project, at_epoch_1, "training", **ONE_THREAD)
    assert not (project / "models" / "model.pt").exists(), "training finished before the kill"
    assert 1 <= checkpoint_epoch(last) < EPOCHS - 1, "the kill came after training"
    resumed = run(["pipeline", "run", "train"], project, **ONE_THREAD)
    assert "Restoring states from the checkpoint path" in resumed.stdout + resumed.stderr
    assert_bitwise_equal(model_weights(project), uninterrupted)
