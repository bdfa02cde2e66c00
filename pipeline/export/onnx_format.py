"""ONNX: export a torch network with a dynamic batch dimension and run the file with onnxruntime.

A network may take several inputs and return several outputs (a tuple); they are named ``input``,
``input_1``, … and ``output``, ``output_1``, … in the file, in order.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

INPUT_NAME = "input"
OUTPUT_NAME = "output"


def names(stem: str, count: int) -> list[str]:
    """``stem``, ``stem_1``, …: the names of ``count`` inputs or outputs."""
    return [stem if i == 0 else f"{stem}_{i}" for i in range(count)]


def export_onnx(
    network: torch.nn.Module, inputs: torch.Tensor | Sequence[torch.Tensor], path: Path
) -> None:
    """Write ``network`` as one self-contained ``.onnx`` file whose batch dimension is dynamic."""
    inputs = (inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)
    with torch.no_grad():
        outputs = network(*inputs)
    output_count = len(outputs) if isinstance(outputs, (tuple, list)) else 1
    # The torch.export-based exporter (dynamo=True) is the maintained one and writes byte-identical
    # files run after run; the TorchScript exporter is deprecated and due for removal.
    # Dim.DYNAMIC (rather than a named Dim) also accepts a one-row example without specializing to
    # 1.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", category=FutureWarning, module="copyreg"
        )  # torch-internal pytree notice
        torch.onnx.export(
            network,
            inputs,
            str(path),
            dynamo=True,
            external_data=False,
            verbose=False,
            input_names=names(INPUT_NAME, len(inputs)),
            output_names=names(OUTPUT_NAME, output_count),
            dynamic_shapes=tuple({0: torch.export.Dim.DYNAMIC} for _ in inputs),
        )


def run_onnx_outputs(path: Path, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Every output of the ONNX file at ``path`` for ``inputs``, computed by onnxruntime on CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = dict(zip(names(INPUT_NAME, len(inputs)), inputs, strict=True))
    return session.run(None, feed)


def run_onnx(path: Path, x: np.ndarray) -> np.ndarray:
    """The first output of the ONNX file at ``path`` for the batch ``x`` (a one-input network)."""
    return run_onnx_outputs(path, [x])[0]
