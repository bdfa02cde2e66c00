"""A training whose epochs left take long says so once after its first epoch, and a stage that works
long in silence says it is still working."""

from __future__ import annotations

import time

import lightning.pytorch as pl
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel

from pipeline._runtime.duration import duration
from pipeline.stages.still_working import still_working
from pipeline.training.callbacks.long_run import LongRunNote


@pytest.mark.parametrize(
    "seconds, written", [(0.4, "0 s"), (45, "45 s"), (720, "12 min"), (9000, "2 h 30 min")]
)
def test_durations_read_as_a_person_would_say_them(seconds, written):
    assert duration(seconds) == written


def fit_boring(note: LongRunNote, epochs: int) -> None:
    trainer = pl.Trainer(
        max_epochs=epochs,
        callbacks=[note],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
        limit_train_batches=2,
        limit_val_batches=1,
    )
    trainer.fit(BoringModel())


def test_the_epochs_left_are_announced_once_when_they_take_long(capsys):
    fit_boring(LongRunNote("val_loss", long=0.0), epochs=4)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("note:")]
    assert len(lines) == 1, lines
    assert (
        lines[0].startswith("note: at ") and " an epoch, the 3 epochs left take about " in lines[0]
    )
    assert lines[0].endswith(
        "; set trainer.max_epochs lower, or selection.patience to stop once val_loss stops "
        "improving."
    )


def test_a_short_training_says_nothing(capsys):
    fit_boring(LongRunNote("val_loss"), epochs=4)  # far under ten minutes
    assert "note:" not in capsys.readouterr().out


def test_a_long_silent_stage_says_it_is_still_working_until_it_ends(capsys):
    seen: list[str] = []
    with still_working("evaluate", first=0.01, every=0.01):
        deadline = time.monotonic() + 60
        while len(seen) < 2 and time.monotonic() < deadline:  # two lines, however loaded
            seen += capsys.readouterr().out.splitlines()
            time.sleep(0.01)
    seen += capsys.readouterr().out.splitlines()
    assert len(seen) >= 2 and all(line.startswith("evaluate: still working (") for line in seen)
    time.sleep(0.05)
    assert capsys.readouterr().out == ""  # the block ended: no line after it


def test_a_quick_stage_says_nothing(capsys):
    with still_working("evaluate"):
        pass
    assert capsys.readouterr().out == ""
