"""What a user sees in the terminal: the stage's first line before the heavy imports, no known
library noise, real warnings kept, a bar over the whole fit that fits the width, and a summary
naming the MLflow run."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from tests.project_kit import command_env, fast_params

COLUMNS = 120
NOISE = (
    "💡 Tip:",
    "litlogger",
    "exists and is not empty",
    "isinstance(treespec, LeafSpec)",
    "Total FLOPs",
    "GPU available: False",
    "TPU available: False",
    "v_num",
    "Trainer already configured with model summary callbacks",
    "All log messages before absl::InitializeLog()",
    "Could not find cuda drivers",
    "failed call to cuInit",
    "Created TensorFlow Lite XNNPACK delegate",
    "torchvision is not installed",
)
STAGE_LINES = {
    "check": "check: params, accelerator cpu, tracking store, digits files",
    "prepare": "prepare: digits split, val 0.1, test 0.2, seed 0",
}
RUN_URL = re.compile(r"http://127\.0\.0\.1:5000/#/experiments/(\w+)/runs/(\w+)")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def project(tmp_path_factory, make_project) -> Path:
    """A project copy training 2 epochs with a schedule whose points lie beyond the run (the
    trick warns)."""
    root = make_project(tmp_path_factory.mktemp("terminal") / "project")
    tricks = {"piecewise_lr": {"points": [[1000, 1.0], [2000, 0.1]], "unit": "steps"}}
    fast_params(root, epochs=2, tricks=tricks)
    return root


@pytest.fixture(scope="module")
def first_stages(project: Path) -> dict[str, list[str]]:
    """What `pipeline run check` and `pipeline run prepare` print, outside a terminal."""
    return {stage: merged_output(["pipeline", "run", stage], project) for stage in STAGE_LINES}


@pytest.fixture(scope="module")
def train_screen(project: Path, first_stages) -> list[str]:
    """The lines a terminal 120 columns wide shows for `pipeline run train`, with Python's import
    log interleaved on the same terminal."""
    command = [sys.executable, "-X", "importtime", "-m", "pipeline.cli", "run", "train"]
    code, text = run_in_terminal(command, project, COLUMNS)
    assert code == 0, text[-4000:]
    return [line for line in re.split(r"[\r\n]", ANSI.sub("", text)) if line.strip()]


def run_in_terminal(args: list[str], cwd: Path, columns: int) -> tuple[int, str]:
    """Run ``args`` on a pseudo-terminal ``columns`` wide; return its exit code and all it
    printed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = command_env()
    env.pop("COLUMNS", None)
    process = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def merged_output(args: list[str], cwd: Path) -> list[str]:
    """stdout and stderr of a command as one stream, in the order written (not a terminal)."""
    done = subprocess.run(
        args, cwd=cwd, env=command_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    text = done.stdout.decode(errors="replace")
    assert done.returncode == 0, text[-4000:]
    return text.splitlines()


def assert_no_noise(lines: list[str]) -> None:
    printed = [line for line in lines if not line.startswith("import time:")]  # -X importtime
    for pattern in NOISE:
        assert not [line for line in printed if pattern in line], pattern


def assert_names_its_run(lines: list[str], root: Path) -> None:
    """The summary's URL opens a run of the project's MLflow store, named as the summary says."""
    from mlflow.tracking import MlflowClient

    (match,) = [m for m in map(RUN_URL.search, lines) if m]
    experiment_id, run_id = match.groups()
    found = MlflowClient(f"sqlite:///{root / 'mlflow.db'}").get_run(run_id)
    assert found.info.experiment_id == experiment_id
    assert f"MLflow run {found.info.run_name} ({run_id})" in lines


def test_train_says_what_it_does_before_importing_torch(train_screen: list[str]) -> None:
    torch = re.compile(r"^import time: .*\|\s+torch$")
    first_torch = next(i for i, line in enumerate(train_screen) if torch.match(line))
    said = train_screen.index("train: classifier on digits, 2 epochs, tricks: piecewise_lr")
    assert said < first_torch
    assert not [line for line in train_screen[:said] if not line.startswith("import time:")]


def test_train_screen_has_no_noise_but_keeps_real_warnings(train_screen: list[str]) -> None:
    assert_no_noise(train_screen)
    assert any(
        "tricks.piecewise_lr: points at steps [1000, 2000] lie beyond" in line
        for line in train_screen
    )


def test_train_bar_covers_the_fit_within_the_width(train_screen: list[str]) -> None:
    bars = [line for line in train_screen if line.startswith(("Epoch", "Fit"))]
    assert any(line.startswith("Fit") and " 40/40 " in line for line in bars)  # 2 epochs × 20
    # Rows a later line was written after (imports, Lightning's last line) say nothing of width.
    alone = [line for line in bars if "import time:" not in line and "`Trainer.fit`" not in line]
    assert alone and max(len(line.rstrip()) for line in alone) <= COLUMNS


def test_train_ends_with_its_metrics_and_run(train_screen: list[str], project: Path) -> None:
    summary = next(line for line in train_screen if line.startswith("train: done in"))
    assert "val_acc " in summary and "optimizer_steps 40" in summary
    assert_names_its_run(train_screen, project)


def test_check_and_prepare_start_and_end_plainly(first_stages) -> None:
    for stage, lines in first_stages.items():
        assert lines[0] == STAGE_LINES[stage]
        assert_no_noise(lines)
        assert lines[-1].startswith(f"{stage}: done in "), lines
    assert "train_examples 1257" in first_stages["prepare"][-1]


def test_export_has_no_tensorflow_noise_and_names_its_run(train_screen, project: Path) -> None:
    lines = merged_output(["pipeline", "run", "export"], project)
    assert lines[0] == (
        "export: classifier on digits to ONNX, SavedModel, TFLite (tolerance 0.0001)"
    )
    assert_no_noise(lines)
    assert "onnx_max_abs_diff" in next(line for line in lines if line.startswith("export: done"))
    assert_names_its_run(lines, project)


def fit_showing_the_bar():
    """A 2-epoch fit of Lightning's BoringModel (4 batches an epoch) showing the pipeline's bar."""
    import lightning.pytorch as pl
    from lightning.pytorch.demos.boring_classes import BoringModel

    from pipeline.training.callbacks.progress import FitProgressBar

    bar = FitProgressBar()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=2,
        limit_train_batches=4,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        callbacks=[bar],
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
    )
    trainer.fit(BoringModel())
    return bar, trainer


def test_fit_bar_counts_every_batch_and_cuts_the_metrics() -> None:
    from pipeline.training.callbacks.progress import Fitted

    bar, trainer = fit_showing_the_bar()
    [fit] = [task for task in bar.progress.tasks if task.description.endswith("Fit")]
    assert fit.total == fit.completed == 8 == trainer.global_step
    assert isinstance(bar.progress.columns[-1], Fitted)


def test_a_changed_rich_turns_the_fit_bar_off_and_the_fit_goes_on(monkeypatch) -> None:
    from lightning.pytorch.callbacks.progress import rich_progress

    class ReadOnlyColumns(rich_progress.CustomProgress):
        """As if a rich upgrade made ``Progress.columns`` read-only once built."""

        def __setattr__(self, name, value):
            if name == "columns" and "columns" in self.__dict__:
                raise AttributeError("property 'columns' of 'Progress' object has no setter")
            super().__setattr__(name, value)

    monkeypatch.setattr(rich_progress, "CustomProgress", ReadOnlyColumns)
    with pytest.warns(UserWarning, match=r"bar over the whole fit is off \(AttributeError: "):
        bar, trainer = fit_showing_the_bar()
    assert trainer.state.finished and trainer.global_step == 8
    assert not [task for task in bar.progress.tasks if task.description.endswith("Fit")]
    [epoch] = [task for task in bar.progress.tasks if task.id == bar.train_progress_bar_id]
    assert epoch.completed == epoch.total == 4  # Lightning's own bar went on


def test_train_bar_counts_epochs_from_one_and_shows_every_metric(train_screen: list[str]) -> None:
    epochs = [line.split()[1] for line in train_screen if line.startswith("Epoch ")]
    assert "2/2" in epochs and not [e for e in epochs if e.startswith("0")]  # 2 epochs: 1/2, 2/2
    screen = "\n".join(train_screen)
    for metric in ("train_loss", "train_acc", "val_loss", "val_acc"):  # beside the bar, whole
        assert re.search(rf"\b{metric}: \d+\.\d{{3}}\b", screen), metric
    header = next(line for line in train_screen if " Name " in line and " Params " in line)
    assert "FLOPs" not in header and "Mode" in header  # no column of zeros
