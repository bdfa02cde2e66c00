"""The trainer checks that run before Lightning is imported accept exactly what the installed
Lightning accepts."""

from __future__ import annotations

import inspect
import typing

import lightning.pytorch as pl
import pytest
from lightning.fabric.connector import _PRECISION_INPUT
from lightning.pytorch.strategies import StrategyRegistry

from pipeline.errors import PipelineError
from pipeline.params.trainer_section import PRECISIONS, STRATEGIES, TRAINER_ARGUMENTS, check_trainer
from pipeline.training.trainer import build_trainer


def test_names_match_the_installed_lightning():
    assert TRAINER_ARGUMENTS == tuple(
        name for name in inspect.signature(pl.Trainer.__init__).parameters if name != "self"
    )
    assert set(STRATEGIES) == {"auto", *StrategyRegistry.available_strategies()}
    assert set(PRECISIONS) == {
        value for literal in typing.get_args(_PRECISION_INPUT) for value in typing.get_args(literal)
    }


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"devices": 0},
            "trainer.devices = 0 is invalid; expected a device count ≥ 1, -1 for all, 'auto', or a "
            "non-empty list",
        ),
        ({"devices": []}, "trainer.devices = [] is invalid"),
        ({"devices": "0"}, "trainer.devices = '0' is invalid"),
        (
            {"precision": "banana"},
            "trainer.precision = 'banana' is invalid; expected one of 64, 32, 16, bf16,",
        ),
        (
            {"precision": "16-mix"},
            "trainer.precision = '16-mix' is invalid (did you mean '16-mixed'?)",
        ),
        (
            {"strategy": "warp_drive"},
            "trainer.strategy = 'warp_drive' is invalid; expected one of auto, ddp,",
        ),
        ({"accelerator": "gpus"}, "trainer.accelerator = 'gpus' is invalid (did you mean 'gpu'?)"),
        (
            {"max_epoch": 3},
            "trainer.max_epoch is not an argument of Lightning's Trainer (did you mean "
            "'max_epochs'?)",
        ),
        ({"logger": True}, "trainer.logger is set by the pipeline"),
    ],
)
def test_refused_before_lightning_sees_them(settings, message):
    with pytest.raises(PipelineError) as error:
        check_trainer(settings)
    assert str(error.value).startswith(message)


@pytest.mark.parametrize(
    "settings",
    [
        {"devices": 1},
        {"devices": -1},
        {"devices": "auto"},
        {"devices": [0, 1]},
        {"devices": "0,"},
        {"devices": "2"},
        {"precision": "bf16-mixed"},
        {"precision": 32},
        {"strategy": "ddp_spawn"},
        {"accelerator": "auto"},
    ],
)
def test_valid_settings_pass(settings):
    check_trainer(settings)


def test_what_only_lightning_can_judge_is_refused_when_the_trainer_is_built():
    with pytest.raises(
        PipelineError,
        match="^Lightning rejected the trainer settings: .*max_time|^Lightning rejected the "
        "trainer "
        "settings: .*duration",
    ):
        build_trainer({"accelerator": "cpu", "devices": 1, "max_time": "garbage"}, [], False, None)
    built = build_trainer({"accelerator": "cpu", "devices": 1, "max_epochs": 2}, [], False, None)
    assert built.max_epochs == 2


def test_settings_can_switch_the_progress_bar_off(monkeypatch):
    from lightning.pytorch.callbacks import ModelSummary, RichProgressBar

    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    cpu = {"accelerator": "cpu", "devices": 1}
    shown = build_trainer(cpu, [], False, None)
    quiet = build_trainer({**cpu, "enable_progress_bar": False}, [], False, None)
    assert isinstance(shown.progress_bar_callback, RichProgressBar)
    assert quiet.progress_bar_callback is None
    assert not any(isinstance(callback, ModelSummary) for callback in quiet.callbacks)
