"""Model selection (``selection:``): early stopping on a validation metric that has stopped
improving, and the best epoch's weights written instead of the last, also across a kill. Trained
by the real train stage on the default experiment with a learning rate at which the validation loss
bottoms out after a few epochs and then rises."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
import yaml

from pipeline.errors import PipelineError
from pipeline.stages import run_stage
from pipeline.stages.context import build_context
from tests.family_kit import read_history
from tests.project_kit import REPO
from tests.trick_kit import assert_bitwise_equal

pytestmark = pytest.mark.usefixtures("one_thread")

MAX_EPOCHS, PATIENCE = 15, 3


class Killed(Exception):
    """The kill, as the training sees it."""


class KillAt(pl.Callback):
    """Stops the training in ``epoch`` before batch ``batch``, or as training ends (epoch None),
    after the stopping epoch's checkpoint."""

    def __init__(self, epoch: int | None, batch: int = 0):
        self.epoch, self.batch = epoch, batch

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if (trainer.current_epoch, batch_idx) == (self.epoch, self.batch):
            raise Killed

    def on_train_end(self, trainer, pl_module):
        if self.epoch is None:
            raise Killed


def params_with(**selection) -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["optimizer"]["lr"] = 0.01  # val_loss is lowest at epoch 7 of 0-14, then rises
    params["trainer"]["max_epochs"] = MAX_EPOCHS
    params["checkpoint"]["seconds"] = 0  # last.ckpt at every epoch, so any kill resumes
    params["selection"].update(selection)
    return params


def train(root: Path, params: dict, *callbacks: pl.Callback) -> dict[str, float]:
    """The train stage (after prepare, the first time) as ``pipeline run train`` runs it."""
    if not (root / "data" / "prepared").is_dir():
        run_stage("prepare", build_context(root, raw_params=params))
    ctx = build_context(root, raw_params=params)
    ctx.extra_callbacks.extend(callbacks)
    run_stage("train", ctx)
    return json.loads((root / "metrics" / "train.json").read_text())


def saved_weights(root: Path) -> dict[str, torch.Tensor]:
    return torch.load(root / "models" / "model.pt", weights_only=True)["state_dict"]


def expected_stop(val_loss: list[float], patience: int) -> int:
    """The epoch (from 0) at which ``patience`` epochs in a row have not beaten the best so far."""
    best, waited = float("inf"), 0
    for epoch, value in enumerate(val_loss):
        best, waited = (value, 0) if value < best else (best, waited + 1)
        if waited == patience:
            return epoch
    return len(val_loss) - 1


@pytest.fixture(scope="module")
def selected(tmp_path_factory) -> tuple[Path, dict[str, float], list[dict[str, float]]]:
    """An uninterrupted training with early stopping and the best weights kept."""
    root = tmp_path_factory.mktemp("selected")
    metrics = train(root, params_with(patience=PATIENCE, best=True))
    return root, metrics, read_history(root / "plots" / "history.csv")


def test_training_stops_once_val_loss_has_not_improved_for_patience_epochs(selected):
    _, metrics, history = selected
    val_loss = [row["val_loss"] for row in history]
    stop = expected_stop(val_loss, PATIENCE)
    assert stop < MAX_EPOCHS - 1  # the rising loss did stop the run early
    assert len(history) == stop + 1 and metrics["epochs"] == stop + 1
    best = min(range(len(val_loss)), key=val_loss.__getitem__)
    assert stop == best + PATIENCE


def test_best_keeps_the_weights_of_the_epoch_with_the_lowest_val_loss(selected, tmp_path):
    root, metrics, history = selected
    best = min(range(len(history)), key=lambda epoch: history[epoch]["val_loss"])
    assert metrics["best_epoch"] == best
    assert metrics["val_loss"] == pytest.approx(history[best]["val_loss"], abs=1e-6)
    # The same training stopped after that epoch, without selection, ends with those weights.
    shorter = params_with()
    shorter["trainer"]["max_epochs"] = best + 1
    plain = train(tmp_path, shorter)
    assert "best_epoch" not in plain and plain["epochs"] == best + 1
    assert_bitwise_equal(saved_weights(root), saved_weights(tmp_path))


@pytest.mark.parametrize(
    "kill",
    [KillAt(9, 0), KillAt(9, 5), KillAt(None)],
    ids=["after-the-best-epoch", "mid-epoch", "after-the-stopping-epoch"],
)
def test_a_killed_training_resumes_to_the_same_choice(selected, tmp_path, kill):
    root, metrics, _ = selected
    params = params_with(patience=PATIENCE, best=True)
    with pytest.raises(Killed):
        train(tmp_path, params, kill)
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    resumed = train(tmp_path, params)
    assert resumed == metrics
    assert_bitwise_equal(saved_weights(tmp_path), saved_weights(root))


def test_a_monitor_the_family_does_not_log_is_named(tmp_path):
    params = params_with(monitor="val_f1", patience=2)
    with pytest.raises(PipelineError) as raised:
        train(tmp_path, params)
    assert str(raised.value) == (
        "selection.monitor = 'val_f1' is not a validation metric this family logs; it logs: "
        "val_acc, val_loss."
    )
    assert not (tmp_path / "plots" / "history.csv").exists()  # named before an epoch trained


def test_a_monitor_that_is_no_validation_metric_is_refused_with_the_params(tmp_path):
    with pytest.raises(PipelineError, match="selection.monitor = 'train_loss' is invalid"):
        build_context(tmp_path, raw_params=params_with(monitor="train_loss"))
