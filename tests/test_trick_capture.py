"""capture: recording changes no trained weight, records exactly what the chosen modules output on
the first validation batch at the chosen epochs, writes it as tables, arrays and pictures and to an
MLflow run, and the families' defaults record cln_lm's attention maps and on_lstm's gate levels."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import MLFlowLogger
from torch import nn
from torch.utils.data import DataLoader

from pipeline import TEST_TRAINER, build_training
from pipeline.errors import PipelineError
from plugins.tricks.capture import CaptureOutputs, CaptureTrick, Recording
from tests.data_kit import contract_data
from tests.family_kit import REGISTRY, build
from tests.family_kit import fit as fit_family
from tests.trick_kit import (
    Tiny,
    assert_bitwise_equal,
    classification_data,
    fit,
    fit_saving_epochs,
    weights,
)

pytestmark = pytest.mark.usefixtures("one_thread")
DEFAULTS = {"modules": [], "every_n_epochs": 1, "what": ["mean", "std", "histogram", "map"]}
DEFAULTS |= {"bins": 20, "folder": None}
TRAIN, VAL = classification_data(48), classification_data(20, seed=1)


def train(tricks: dict, epochs: int = 4, **trainer_args):
    """A Tiny model (tanh, so dropout-free) trained with Adam; returns it and its Trainer."""
    torch.manual_seed(0)
    module = Tiny()
    trainer = fit(module, tricks, TRAIN, 8, "adam", val=VAL, max_epochs=epochs, **trainer_args)
    return module, trainer


def capture_of(trainer) -> CaptureOutputs:
    return next(cb for cb in trainer.callbacks if isinstance(cb, CaptureOutputs))


def rows(path: Path) -> list[dict[str, str]]:
    with path.open() as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("with_ema", [False, True])
def test_weights_and_logged_metrics_are_bitwise_those_without_capture(with_ema, tmp_path):
    ema = {"ema": {"decay": 0.9}} if with_ema else {}
    plain, plain_trainer = train(ema)
    captured, trainer = train({**ema, "capture": {**DEFAULTS, "folder": str(tmp_path)}})
    assert capture_of(trainer).epochs == [0, 1, 2, 3]
    assert_bitwise_equal(weights(captured), weights(plain))
    assert trainer.callback_metrics.keys() == plain_trainer.callback_metrics.keys()
    for key, value in plain_trainer.callback_metrics.items():
        assert torch.equal(trainer.callback_metrics[key], value), key


def test_a_resumed_run_ends_at_the_same_weights_and_records_the_epochs_it_trains(tmp_path):
    settings = {**DEFAULTS, "folder": str(tmp_path / "files")}
    torch.manual_seed(0)
    whole = Tiny()
    tricks, folder = {"capture": settings}, tmp_path / "ckpt"
    fit_saving_epochs(
        whole, tricks, TRAIN, folder, batch_size=8, optimizer="adam", val=VAL, max_epochs=3
    )
    torch.manual_seed(0)
    resumed = Tiny()
    checkpoint = str(tmp_path / "ckpt" / "epoch=0.ckpt")
    trainer = fit(resumed, tricks, TRAIN, 8, "adam", val=VAL, max_epochs=3, ckpt_path=checkpoint)
    assert_bitwise_equal(weights(resumed), weights(whole))
    assert capture_of(trainer).epochs == [1, 2]  # epoch 0 was the interrupted run's
    table = rows(tmp_path / "files" / "stats.csv")  # rewritten, not doubled, where both recorded
    assert [(r["epoch"], r["output"]) for r in table] == [
        (epoch, output) for epoch in "012" for output in ("net.0", "net.2")
    ]


def test_it_records_the_first_validation_batch_at_every_nth_epoch(tmp_path):
    settings = {**DEFAULTS, "every_n_epochs": 2, "modules": ["net.0", "net.2"]}
    module, trainer = train({"capture": {**settings, "folder": str(tmp_path)}})
    callback = capture_of(trainer)
    assert callback.epochs == [1, 3]  # after the 2nd and 4th epochs, as Lightning counts
    # The last recording is of the final weights: recompute the outputs on the batch.
    with torch.no_grad():
        hidden = module.net[0](VAL.tensors[0])
        expected = {"net.0": hidden, "net.2": module.net[2](module.net[1](hidden))}
    assert callback.last.keys() == expected.keys()
    for name, values in expected.items():
        assert torch.equal(callback.last[name], values), name

    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_001", "epoch_003", "stats.csv"]
    table = rows(tmp_path / "stats.csv")
    assert [(r["epoch"], r["output"], r["shape"]) for r in table] == [
        ("1", "net.0", "20x8"),
        ("1", "net.2", "20x3"),
        ("3", "net.0", "20x8"),
        ("3", "net.2", "20x3"),
    ]
    assert float(table[2]["mean"]) == pytest.approx(float(hidden.mean()), rel=1e-6)
    assert float(table[2]["std"]) == pytest.approx(float(hidden.std(correction=0)), rel=1e-6)

    folder = tmp_path / "epoch_003"
    assert {p.name for p in folder.iterdir()} == {
        "stats.csv",
        "arrays.npz",
        "histograms.png",
        "maps",
    }
    assert {p.name for p in (folder / "maps").iterdir()} == {"net.0.png", "net.2.png"}
    arrays = np.load(folder / "arrays.npz")
    assert arrays["net.0.counts"].sum() == hidden.numel() and len(arrays["net.0.edges"]) == 21
    assert arrays["net.0.edges"][0] == pytest.approx(float(hidden.min()))
    assert np.array_equal(arrays["net.0.map"], hidden.numpy())  # (batch, features): the batch


def test_only_what_is_asked_is_written(tmp_path):
    settings = {**DEFAULTS, "what": ["std"], "modules": ["net.1"], "folder": str(tmp_path)}
    train({"capture": settings}, epochs=1)
    folder = tmp_path / "epoch_000"
    assert {p.name for p in folder.iterdir()} == {"stats.csv", "arrays.npz", "maps"}
    assert list(rows(folder / "stats.csv")[0]) == ["epoch", "output", "shape", "std"]
    assert not list((folder / "maps").iterdir())


def test_a_module_called_per_step_has_its_calls_stacked_and_tuples_split():
    cell, pair = nn.RNNCell(3, 5), _Pair()
    recording = Recording({"cell": cell, "pair": pair})
    x, h = torch.randn(2, 4, 3), torch.zeros(2, 5)
    steps = []
    for t in range(4):
        h = cell(x[:, t], h)
        steps.append(h)
    pair(x)
    recorded = recording.stop()
    assert torch.equal(recorded["cell"], torch.stack(steps, dim=1).detach())  # (batch, time, h)
    assert recorded["pair[0]"].shape == (2, 4, 3) and recorded["pair[1][0]"].shape == ()
    assert not cell._forward_hooks  # the hooks are gone


class _Pair(nn.Module):
    def forward(self, x):
        return x * 2, (x.sum(),)


def built(tricks: dict, epochs: int, **build_args):
    """``train`` through ``build_training`` itself, for its logger and root folder arguments."""
    torch.manual_seed(0)
    module = Tiny()
    optimizer = {"name": "adam", "lr": 0.01, "weight_decay": 0.0}
    trainer_settings = {**TEST_TRAINER, "max_epochs": epochs}
    training = build_training(module, optimizer, tricks, REGISTRY, trainer_settings, **build_args)
    training.trainer.fit(module, DataLoader(TRAIN, batch_size=8), DataLoader(VAL, batch_size=20))


def test_statistics_and_files_go_to_an_mlflow_run(tmp_path):
    logger = MLFlowLogger("capture", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    settings = {**DEFAULTS, "every_n_epochs": 2, "folder": str(tmp_path / "files")}
    built({"capture": settings}, 4, logger=logger)
    client, run_id = logger.experiment, logger.run_id
    history = client.get_metric_history(run_id, "capture/net.0/mean")
    assert [m.step for m in history] == [1, 3]
    table = rows(tmp_path / "files" / "stats.csv")
    [row] = [r for r in table if (r["epoch"], r["output"]) == ("3", "net.0")]
    assert history[1].value == pytest.approx(float(row["mean"]), rel=1e-6)
    top = {a.path for a in client.list_artifacts(run_id, "capture")}
    assert top == {"capture/epoch_001", "capture/epoch_003", "capture/stats.csv"}
    files = {a.path for a in client.list_artifacts(run_id, "capture/epoch_003")}
    assert "capture/epoch_003/histograms.png" in files


def test_without_a_folder_it_writes_under_the_trainers_root(tmp_path):
    built({"capture": DEFAULTS}, 1, root_dir=str(tmp_path))
    assert (tmp_path / "capture" / "epoch_000" / "histograms.png").is_file()


def test_a_run_without_validation_warns_that_it_recorded_nothing(tmp_path):
    torch.manual_seed(0)
    settings = {**DEFAULTS, "folder": str(tmp_path)}
    with pytest.warns(UserWarning, match="recorded nothing"):
        fit(Tiny(), {"capture": settings}, TRAIN, 8, "adam", max_epochs=1)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_patterns_that_name_no_module_are_refused():
    with pytest.raises(PipelineError, match=r"tricks.capture.modules: pattern 'attention' matches"):
        CaptureTrick().check({**DEFAULTS, "modules": ["attention"]}, Tiny())


def fit_with_defaults(name: str, folder: Path) -> CaptureOutputs:
    data = contract_data(name)
    _, module = build(name, data)
    trainer = fit_family(
        module,
        data,
        tricks={"capture": {**DEFAULTS, "folder": str(folder)}},
        batch_size=16,
        max_epochs=1,
        limit_train_batches=1,
        limit_val_batches=1,
    )
    return capture_of(trainer)


def test_cln_lm_records_causal_attention_maps_by_default(tmp_path):
    recorded = fit_with_defaults("cln_lm", tmp_path).last
    assert set(recorded) == {"lm.blocks.0.attention.map", "lm.blocks.1.attention.map"}
    maps = recorded["lm.blocks.0.attention.map"]  # (batch, heads, n, n)
    assert maps.dim() == 4 and maps.shape[-1] == maps.shape[-2]
    torch.testing.assert_close(maps.sum(-1), torch.ones(maps.shape[:-1]))
    assert not maps.triu(1).any()  # causal: no weight on later positions
    assert (tmp_path / "epoch_000" / "maps" / "lm.blocks.0.attention.map.png").is_file()


def test_on_lstm_records_monotone_master_gate_levels_by_default(tmp_path):
    recorded = fit_with_defaults("on_lstm", tmp_path).last
    gates = recorded["net.rnn.cells.0[2]"]  # the master forget gate per step: (batch, time, levels)
    assert gates.dim() == 3 and gates.shape[1] > 1
    assert (gates.diff(dim=-1) >= 0).all() and float(gates.max()) <= 1
    assert (tmp_path / "epoch_000" / "maps" / "net.rnn.cells.0_2.png").is_file()


# Families whose validation step calls none of their layers: jose's tables are parameters of the
# module itself, and bioword's validation reads the fly's synapses as a matrix.
CALLS_NO_LAYER = {"jose", "bioword"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(REGISTRY.families))
def test_every_family_records_its_default_choice(name, tmp_path):
    """With every statistic, histograms and maps, on each family's outputs (a minute or two)."""
    callback = fit_with_defaults(name, tmp_path)
    assert callback.epochs == [0]
    if name in CALLS_NO_LAYER:
        assert not callback.last
        return
    table = rows(tmp_path / "stats.csv")
    assert [r["output"] for r in table] == list(callback.last)
    assert (tmp_path / "epoch_000" / "histograms.png").is_file()
