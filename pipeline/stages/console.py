"""What a stage prints: one line saying what it does, no known library noise, and a summary with
its metrics and where its MLflow run is."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping

# Lines that TensorFlow's C++ runtime, absl and torch.onnx write straight to file descriptor 2 in
# the export stage. They look like errors but only say that this CPU export found no GPU.
NATIVE_NOISE = (
    re.compile(r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written"),
    re.compile(r"^I\d{4} .*cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine"),
    re.compile(r"^E\d{4} .*cuda_platform\.cc:\d+\] failed call to cuInit"),
    re.compile(r"^INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.$"),
    re.compile(r"^W\d{4} .*_registration\.py:\d+\] torchvision is not installed\. Skipping "),
)
# Lightning's INFO lines that say nothing on a CPU run, and its advertisements.
LIGHTNING_NOISE = re.compile(
    r"^(💡 Tip: |GPU available: False|TPU available: False|HPU available: False)"
)
URL_OF_LOCAL_UI = "http://127.0.0.1:5000"


def describe(stage: str, params: Mapping[str, Any]) -> str:
    """One line saying what ``stage`` is about to do with ``params``."""
    data, model, trainer = params["data"], params["model"], params["trainer"]
    on = f"{model['family']} on {data['name']}"
    if stage == "check":
        accelerator = trainer["accelerator"]
        return f"check: params, accelerator {accelerator}, tracking store, {data['name']} files"
    if stage == "prepare":
        return (
            f"prepare: {data['name']} split, val {data['val_fraction']}, "
            f"test {data['test_fraction']}, seed {params['seed']}"
        )
    if stage == "train":
        epochs = trainer["max_epochs"]
        tricks = ", ".join(params["tricks"]) or "none"
        return f"train: {on}, {epochs} epoch{'s' * (epochs != 1)}, tricks: {tricks}"
    if stage == "evaluate":
        return f"evaluate: {on}, test split"
    return f"export: {on} to ONNX, SavedModel, TFLite (tolerance {params['export']['tolerance']})"


class _DropLines(logging.Filter):
    """Drops the records of one logger whose message matches a pattern."""

    def __init__(self, pattern: re.Pattern):
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.pattern.match(record.getMessage())


_LIGHTNING_FILTER = _DropLines(LIGHTNING_NOISE)  # one instance: addFilter keeps one copy


def quiet_known_noise(checkpoints: Path | None = None) -> None:
    """Silence the exact messages known to be noise; every other warning still shows. Calling it
    again adds nothing twice."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_LIGHTNING_FILTER)
    # Lightning's copy of torch's pytree helper uses an API torch deprecated; nothing to act on.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    if checkpoints is not None:  # the train stage keeps its resume record there: never empty
        warnings.filterwarnings(
            "ignore",
            message=f"Checkpoint directory {re.escape(str(checkpoints))} exists and is not",
        )


@contextlib.contextmanager
def native_stderr_filtered(fd: int = 2) -> Iterator[None]:
    """Drop the :data:`NATIVE_NOISE` lines that C++ libraries write to ``fd``; pass the rest."""
    sys.stderr.flush()
    saved = os.dup(fd)
    read_end, write_end = os.pipe()
    os.dup2(write_end, fd)
    os.close(write_end)
    thread = threading.Thread(target=_pump, args=(read_end, saved), daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, fd)  # closes the pipe's last writer, so the pump sees the end
        thread.join(timeout=5)  # a child process may still hold the pipe; don't wait on it
        os.close(saved)


def _pump(read_end: int, sink_fd: int) -> None:
    with os.fdopen(read_end, "rb") as source, os.fdopen(os.dup(sink_fd), "wb", 0) as sink:
        for line in source:
            text = line.decode(errors="replace")
            if not any(pattern.search(text) for pattern in NATIVE_NOISE):
                sink.write(line)


def summary(stage: str, metrics: Mapping[str, float], paths: Any, seconds: float) -> list[str]:
    """The lines that end a stage: its metrics, then its MLflow run and the URL to open it."""
    shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
    lines = [f"{stage}: done in {seconds:.1f} s" + (f"; {shown}" if shown else "")]
    if stage in ("train", "evaluate", "export"):
        lines += _run_lines(paths)
    return lines


def _run_lines(paths: Any) -> list[str]:
    from pipeline.stages.outputs import read_run_id
    from pipeline.tracking.runs import Tracker, is_rank_zero

    if not is_rank_zero():  # the other processes of a distributed training record no run
        return []
    run_id = read_run_id(paths.run_record)
    tracker = Tracker(paths.root)
    try:
        run = tracker.get_run(run_id)
    except Exception as error:  # the stage succeeded; a store gone since must not fail it
        return [f"MLflow run {run_id} (not readable now: {type(error).__name__})"]
    lines = [f"MLflow run {run.info.run_name} ({run_id})"]
    if tracker.uri.startswith(("http://", "https://")):
        base = tracker.uri.rstrip("/")
    else:
        base = URL_OF_LOCAL_UI
        lines.append(f"  mlflow ui --backend-store-uri {shlex.quote(tracker.uri)}")
    page = f"{base}/#/experiments/{run.info.experiment_id}/runs/{run_id}"
    lines.append(f"  {page}?workflowType=machine_learning")  # the model-training view
    return lines
