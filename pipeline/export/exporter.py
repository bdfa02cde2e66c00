"""Writes every format into a staging folder, checks parity, and only then replaces
``exported/``."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from pipeline.atomic import recover_dir, replace_dir
from pipeline.export import parity
from pipeline.export.backend import load_keras
from pipeline.export.keras_convert import to_keras
from pipeline.export.onnx_format import export_onnx, run_onnx
from pipeline.export.tensorflow_formats import (
    convert_tflite,
    export_saved_model,
    run_saved_model,
    run_tflite,
)

ONNX_FILE = "model.onnx"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "model.tflite"


@contextlib.contextmanager
def staged(target: Path) -> Iterator[Path]:
    """Yield an empty folder next to ``target``; on success it replaces ``target``, on error it is
    deleted."""
    # Named *.tmp so git ignores it; a folder left by a killed export is cleared by the next one.
    recover_dir(target)
    for stale in target.parent.glob(f".{target.name}-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = target.parent / f".{target.name}-new-{os.getpid()}.tmp"
    staging.mkdir(parents=True)
    try:
        yield staging
        replace_dir(staging, target)  # one atomic swap: target is never missing or half-written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def torch_outputs(network: torch.nn.Module, examples: torch.Tensor) -> np.ndarray:
    """What every format must reproduce: the network's outputs on ``examples`` in eval mode."""
    with torch.no_grad():
        return network.eval()(examples).numpy()


def write_formats(
    network: torch.nn.Module,
    keras_model: Any,
    examples: torch.Tensor,
    reference: np.ndarray,
    folder: Path,
) -> dict[str, float]:
    """Write the ONNX, SavedModel and TFLite files into ``folder``; return each format's max abs
    diff from
    torch's ``reference`` outputs."""
    network = network.eval()
    x = examples.numpy()
    export_onnx(network, examples, folder / ONNX_FILE)
    if keras_model is None:
        keras_model = to_keras(network, tuple(examples.shape[1:]))
    export_saved_model(keras_model, folder / SAVED_MODEL_DIR)
    convert_tflite(folder / SAVED_MODEL_DIR, folder / TFLITE_FILE)
    return {
        "ONNX": parity.max_abs_diff("ONNX", reference, run_onnx(folder / ONNX_FILE, x)),
        "SavedModel": parity.max_abs_diff(
            "SavedModel", reference, run_saved_model(folder / SAVED_MODEL_DIR, x)
        ),
        "TFLite": parity.max_abs_diff("TFLite", reference, run_tflite(folder / TFLITE_FILE, x)),
    }


def export_network(
    family: Any, network: torch.nn.Module, examples: torch.Tensor, target: Path, tolerance: float
) -> dict[str, float]:
    """Export ``network`` to ``target`` if every format matches torch within ``tolerance``; return
    the diff metrics."""
    examples = torch.as_tensor(examples).contiguous()
    reference = torch_outputs(network, examples)
    parity.check_reference(
        reference
    )  # before anything is written: a diverged model is no conversion problem
    load_keras()  # configures TensorFlow before a family's keras_model imports it
    with staged(target) as folder:
        diffs = write_formats(network, family.keras_model(network), examples, reference, folder)
        return parity.check(diffs, tolerance)
